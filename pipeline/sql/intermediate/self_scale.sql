-- Purpose: THE one rule for an episode's Self scale, used by every Self indicator (the trajectory, the
--          self-leadership table and milestone M5): the scale on which the episode's change can be measured, the
--          validated IFS Self Scale first — the IFS Self Scale total when the episode has a baseline on it, else
--          the 8 Cs check-in when it has one on that, else whichever of the two was administered (IFS Self first).
-- Grain: one row per episode with a scored Self administration.
-- Inputs: scored_administrations, client_change (baselines).
-- Reference: DESIGN 5.5 and 5.6 ("the ifs_self total, or the 8 Cs check-in where an episode has no ifs_self"),
--            read as "no IFS Self baseline": an IFS Self Scale given only late in an episode cannot show change
--            from baseline, and its 8 Cs series can (docs/indicators.md §9).
-- Missing data: an administration whose score is incomplete does not count; an episode with neither has no row.
WITH candidates AS (
    SELECT DISTINCT a.client_id, a.instrument, a.scale,
        coalesce(c.baseline_date IS NOT NULL, false) AS has_baseline
    FROM scored_administrations AS a
    LEFT JOIN client_change AS c USING (client_id, instrument, scale)
    WHERE (a.instrument = 'ifs_self' AND a.scale = 'total') OR a.instrument = 'self_energy_8c'
)
SELECT
    client_id,
    arg_min(instrument, (NOT has_baseline)::INT * 2 + (instrument <> 'ifs_self')::INT) AS instrument,
    arg_min(scale, (NOT has_baseline)::INT * 2 + (instrument <> 'ifs_self')::INT) AS scale
FROM candidates
GROUP BY client_id
