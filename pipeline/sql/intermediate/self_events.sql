-- Purpose: the events of milestone M5, self-leadership (DESIGN 5.6): administrations of the episode's Self scale
--          after its baseline that are reliably improved over the baseline, and still so at the next
--          administration if there is one.
-- Grain: one row per client_id × session_number with such an administration (session number > 0).
-- Inputs: scored_administrations, self_scale, client_change (the baseline and the scale's reliable-change rule).
-- Reference: DESIGN 5.6; the rule is the macro reliably_improved (pipeline/sql/macros.sql), the same one
--            client_change's flags follow.
-- Missing data: an episode without a baseline of its Self scale has no event; an administration before the
--         first treatment session is not an event.
WITH later AS (
    SELECT
        a.client_id, a.session_number, a.administered_on,
        reliably_improved(direction(c.higher_is_better) * (a.score - c.baseline_score), c.rc_rule, c.rc_threshold)
            AS improved
    FROM scored_administrations AS a
    JOIN self_scale AS s USING (client_id, instrument, scale)
    JOIN client_change AS c USING (client_id, instrument, scale)
    WHERE c.baseline_date IS NOT NULL AND a.administered_on > c.baseline_date AND c.rc_rule IS NOT NULL
),
flagged AS (
    SELECT *, lead(improved) OVER (PARTITION BY client_id ORDER BY administered_on) AS next_improved
    FROM later
)
SELECT DISTINCT client_id, session_number
FROM flagged
WHERE improved AND coalesce(next_improved, true) AND session_number > 0
