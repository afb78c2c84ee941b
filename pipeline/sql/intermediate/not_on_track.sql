-- Purpose: the not-on-track verdict of each episode × scale at its latest administration (DESIGN 5.10): is its
--          change from baseline among the worst of the other episodes at the same session number?
-- Grain: one row per client_id × instrument × scale with an administration after baseline at session number
--        >= $min_session_number.
-- Inputs: scored_administrations, client_change (baseline, direction); parameters (settings section alerts)
--         $min_session_number (3), $min_reference (30), $worst_share (0.2).
-- Reference: DESIGN 5.10. At each session number, the change signed so that larger = better (the last
--            administration up to that session number) is compared with the other episodes' at the same session
--            number, instrument scale and baseline severity band; bands are pooled when that cell has fewer than
--            $min_reference episodes. Not on track when fewer than $worst_share of the others changed strictly
--            less favourably; not assessed (null) with fewer than $min_reference pooled.
-- Missing data: an episode without a baseline is not assessed; a scale without bands is one cell.
WITH admins AS (
    SELECT a.client_id, a.instrument, a.scale, a.session_number,
        arg_max(direction(c.higher_is_better) * (a.score - c.baseline_score), a.administered_on) AS better_change,
        coalesce(any_value(b.band), '(no bands)') AS baseline_band
    FROM scored_administrations AS a
    JOIN client_change AS c USING (client_id, instrument, scale)
    LEFT JOIN scored_administrations AS b
        ON b.client_id = a.client_id AND b.instrument = a.instrument AND b.scale = a.scale
       AND b.administered_on = c.baseline_date
    WHERE c.baseline_date IS NOT NULL AND a.administered_on > c.baseline_date
    GROUP BY a.client_id, a.instrument, a.scale, a.session_number
    HAVING a.session_number >= $min_session_number::INTEGER
),
ranked AS (
    SELECT *,
        count(*) OVER cell AS n_cell,
        rank() OVER (cell ORDER BY better_change) - 1 AS worse_cell,
        count(*) OVER pooled AS n_pooled,
        rank() OVER (pooled ORDER BY better_change) - 1 AS worse_pooled
    FROM admins
    WINDOW cell AS (PARTITION BY instrument, scale, session_number, baseline_band),
           pooled AS (PARTITION BY instrument, scale, session_number)
),
verdicts AS (
    SELECT client_id, instrument, scale, session_number, better_change,
        n_cell < $min_reference::INTEGER AS reference_pooled,
        CASE WHEN n_cell < $min_reference::INTEGER THEN n_pooled ELSE n_cell END - 1 AS reference_n,
        CASE WHEN n_cell < $min_reference::INTEGER THEN worse_pooled ELSE worse_cell END AS worse
    FROM ranked
)
SELECT client_id, instrument, scale, session_number, better_change, reference_n::BIGINT AS reference_n,
    reference_pooled,
    CASE WHEN reference_n + 1 >= $min_reference::INTEGER THEN worse / reference_n < $worst_share::DOUBLE END
        AS not_on_track
FROM verdicts
QUALIFY row_number() OVER (PARTITION BY client_id, instrument, scale ORDER BY session_number DESC) = 1
