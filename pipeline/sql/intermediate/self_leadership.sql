-- Purpose: does Self lead more over the episode (seed 001 goal 5, DESIGN 5.5)? Per episode and measure: baseline
--          (first point), latest (last point), change, number of points, slope per attended session; and the
--          practice-defined Self-leadership index (0-100) at both ends.
-- Grain: one row per episode with any Self-leadership point.
-- Inputs: self_points, client_change (IFS Self reliable improvement); parameters $slope_min_points (settings
--         self_leadership.slope_min_points, 3), $w_self, $w_energy, $w_polarization (self_leadership.index_weights).
-- Reference: DESIGN 5.5. Slope = OLS slope over the episode's points (regr_slope). Index = weighted mean of the
--            Self POMP, Self-energy × 10 and (10 − polarization) × 10, renormalised over the components present
--            (labelled practice-defined wherever shown).
-- Missing data: a measure without points is null; a slope needs $slope_min_points points; the index is null when
--         no component exists at that end.
WITH per_measure AS (
    SELECT client_id, measure,
        arg_min(value, session_number) AS baseline,
        arg_max(value, session_number) AS latest,
        count(*) AS n_points,
        CASE WHEN count(*) >= $slope_min_points::INTEGER THEN regr_slope(value, session_number) END AS slope
    FROM self_points GROUP BY client_id, measure
),
wide AS (
    SELECT client_id,
        any_value(baseline) FILTER (WHERE measure = 'self_score_pomp') AS baseline_self_score_pomp,
        any_value(latest) FILTER (WHERE measure = 'self_score_pomp') AS latest_self_score_pomp,
        any_value(n_points) FILTER (WHERE measure = 'self_score_pomp') AS n_points_self_score_pomp,
        any_value(slope) FILTER (WHERE measure = 'self_score_pomp') AS slope_per_session_self_score_pomp,
        any_value(baseline) FILTER (WHERE measure = 'clinician_self_energy') AS baseline_clinician_self_energy,
        any_value(latest) FILTER (WHERE measure = 'clinician_self_energy') AS latest_clinician_self_energy,
        any_value(n_points) FILTER (WHERE measure = 'clinician_self_energy') AS n_points_clinician_self_energy,
        any_value(slope) FILTER (WHERE measure = 'clinician_self_energy') AS slope_per_session_clinician_self_energy,
        any_value(baseline) FILTER (WHERE measure = 'polarization') AS baseline_polarization,
        any_value(latest) FILTER (WHERE measure = 'polarization') AS latest_polarization,
        any_value(n_points) FILTER (WHERE measure = 'polarization') AS n_points_polarization,
        any_value(slope) FILTER (WHERE measure = 'polarization') AS slope_per_session_polarization
    FROM per_measure GROUP BY client_id
),
indexed AS (
    SELECT *,
        (coalesce($w_self::DOUBLE * baseline_self_score_pomp, 0)
         + coalesce($w_energy::DOUBLE * baseline_clinician_self_energy * 10, 0)
         + coalesce($w_polarization::DOUBLE * (10 - baseline_polarization) * 10, 0))
        / nullif((baseline_self_score_pomp IS NOT NULL)::INT * $w_self::DOUBLE
                 + (baseline_clinician_self_energy IS NOT NULL)::INT * $w_energy::DOUBLE
                 + (baseline_polarization IS NOT NULL)::INT * $w_polarization::DOUBLE, 0) AS index_baseline,
        (coalesce($w_self::DOUBLE * latest_self_score_pomp, 0)
         + coalesce($w_energy::DOUBLE * latest_clinician_self_energy * 10, 0)
         + coalesce($w_polarization::DOUBLE * (10 - latest_polarization) * 10, 0))
        / nullif((latest_self_score_pomp IS NOT NULL)::INT * $w_self::DOUBLE
                 + (latest_clinician_self_energy IS NOT NULL)::INT * $w_energy::DOUBLE
                 + (latest_polarization IS NOT NULL)::INT * $w_polarization::DOUBLE, 0) AS index_latest
    FROM wide
)
SELECT
    i.client_id,
    baseline_self_score_pomp, latest_self_score_pomp, latest_self_score_pomp - baseline_self_score_pomp
        AS change_self_score_pomp, n_points_self_score_pomp, slope_per_session_self_score_pomp,
    baseline_clinician_self_energy, latest_clinician_self_energy,
    latest_clinician_self_energy - baseline_clinician_self_energy AS change_clinician_self_energy,
    n_points_clinician_self_energy, slope_per_session_clinician_self_energy,
    baseline_polarization, latest_polarization, latest_polarization - baseline_polarization AS change_polarization,
    n_points_polarization, slope_per_session_polarization,
    index_baseline, index_latest, index_latest - index_baseline AS index_change,
    cc.reliably_improved AS ifs_self_reliably_improved
FROM indexed AS i
LEFT JOIN client_change AS cc
    ON cc.client_id = i.client_id AND cc.instrument = 'ifs_self' AND cc.scale = 'total' AND cc.paired
