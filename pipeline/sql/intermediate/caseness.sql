-- Purpose: the dates an episode was at caseness on PHQ-9 or GAD-7 (either clinical on a scale with a caseness
--          cutoff) — the healing-need half of the coaching choice point.
-- Grain: one row per client_id × administered_on with a PHQ-9 or GAD-7 score.
-- Inputs: scored_administrations, client_change (each scale's cutoff and direction).
-- Reference: DESIGN 5.3 (a score on the cutoff is clinical; macro is_clinical) and 5.8.
-- Missing data: an incomplete administration is not a date at caseness or not.
WITH cutoffs AS (
    SELECT DISTINCT instrument, scale, cutoff, higher_is_better FROM client_change
    WHERE instrument IN ('phq9', 'gad7') AND cutoff IS NOT NULL
)
SELECT a.client_id, a.administered_on, bool_or(is_clinical(a.score, c.cutoff, c.higher_is_better)) AS clinical
FROM scored_administrations AS a
JOIN cutoffs AS c USING (instrument, scale)
GROUP BY a.client_id, a.administered_on
