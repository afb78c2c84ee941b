-- Purpose: baseline and latest administration per episode × instrument × scale (DESIGN 5.2) — the SQL twin of
--          `pipeline.change.pair_baseline_latest`.
-- Grain: one row per (client_id, instrument, scale) with any scored administration.
-- Inputs: `scores`, `sessions` of the clients in question (all, or those a load touched); $window_days
--         (settings `outcomes.baseline_window_days`).
-- Reference: baseline = the first scored administration if no later than the first attended treatment session
--            + the window; latest = the last scored administration on a later date; a session number counts the
--            attended non-consultation sessions on or before a date.
WITH treatment AS (
    SELECT client_id, session_date FROM sessions
    WHERE status = 'attended' AND kind <> 'consultation' AND {clients}
),
first_session AS (
    SELECT client_id, min(session_date) AS first_session FROM treatment GROUP BY client_id
),
per AS (
    SELECT client_id, instrument, scale,
           min(administered_on) AS first_date, arg_min(score, administered_on) AS first_score,
           max(administered_on) AS last_date, arg_max(score, administered_on) AS last_score,
           count(*)::UINTEGER AS n_administrations
    FROM scores
    WHERE score IS NOT NULL AND {clients}
    GROUP BY client_id, instrument, scale
),
based AS (
    SELECT p.*, f.first_session,
           CASE WHEN f.first_session IS NOT NULL
                     AND p.first_date <= f.first_session + CAST($window_days AS INTEGER) THEN p.first_date END
               AS baseline_date
    FROM per AS p
    LEFT JOIN first_session AS f USING (client_id)
),
paired AS (
    SELECT *,
           CASE WHEN baseline_date IS NOT NULL THEN first_score END AS baseline_score,
           CASE WHEN baseline_date IS NOT NULL AND last_date > baseline_date THEN last_date END AS latest_date
    FROM based
)
SELECT p.client_id, p.instrument, p.scale, p.first_session, p.baseline_date, p.baseline_score,
       CASE WHEN p.baseline_date IS NOT NULL THEN
           (SELECT count(*) FROM treatment AS t WHERE t.client_id = p.client_id AND t.session_date <= p.baseline_date)
       END::BIGINT AS baseline_session_number,
       p.latest_date,
       CASE WHEN p.latest_date IS NOT NULL THEN p.last_score END AS latest_score,
       CASE WHEN p.latest_date IS NOT NULL THEN
           (SELECT count(*) FROM treatment AS t WHERE t.client_id = p.client_id AND t.session_date <= p.latest_date)
       END::BIGINT AS latest_session_number,
       p.n_administrations,
       p.latest_date IS NOT NULL AS paired
FROM paired AS p
