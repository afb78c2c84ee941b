-- Purpose: the points of every Self-leadership measure per episode (DESIGN 5.5): the Self score (POMP 0-100) of
--          the episode's Self scale at each administration, clinician-rated Self-energy and polarization at each
--          attended treatment session.
-- Grain: one row per client_id × measure × session_number (the last value up to that session number).
-- Inputs: scored_administrations, self_scale, treatment_sessions.
-- Reference: DESIGN 5.5; seed 001 (goal 5, self-leadership).
-- Missing data: unrated sessions and incomplete administrations give no point; an administration before the
--         first treatment session is at session number 0.
WITH points AS (
    SELECT a.client_id, 'self_score_pomp' AS measure, a.session_number, a.pomp AS value, a.administered_on AS taken_on
    FROM scored_administrations AS a
    JOIN self_scale AS s USING (client_id, instrument, scale)
    WHERE a.pomp IS NOT NULL
    UNION ALL
    SELECT client_id, 'clinician_self_energy', session_number, self_energy::DOUBLE, session_date
    FROM treatment_sessions WHERE self_energy IS NOT NULL
    UNION ALL
    SELECT client_id, 'polarization', session_number, polarization::DOUBLE, session_date
    FROM treatment_sessions WHERE polarization IS NOT NULL
)
SELECT client_id, measure, session_number, arg_max(value, taken_on) AS value
FROM points
GROUP BY client_id, measure, session_number
