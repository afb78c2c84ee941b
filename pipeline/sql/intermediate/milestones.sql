-- Purpose: how far each episode travels through the five goals of IFS work, in order (seed 001, DESIGN 5.6):
--          when each milestone M1-M5 was reached, the stage reached, and sequence deviations.
-- Grain: one row per episode with at least one attended treatment session.
-- Inputs: treatment_sessions (clinician-rated process markers), self_events (M5); parameter $protector_trust_min
--         (settings process.protector_trust_min, 7).
-- Reference: DESIGN 5.6. Events, each at an attended treatment session:
--   M1 protector trust    protector_trust >= $protector_trust_min and unblending partial or full
--   M2 exile contact      exile_contact with protector_permission
--   M3 unburdening        unburdening partial or complete
--   M4 protector release  protector_release partial or complete
--   M5 self-leadership    a self_events row at that session number
--   Milestone k is reached at the first event k at or after the session where k-1 was reached (the same session
--   is in order); stage_reached = the highest k with M1..Mk reached. An event k before k-1 was reached is a
--   deviation `m{k}_before_m{k-1}`, and so is an exile contact with protector_permission = false.
-- Missing data: a null marker never qualifies (an empty permission is not a deviation). Times: m{k}_session is
--         the session number, m{k}_days the days since the first attended treatment session.
WITH events AS (
    SELECT
        t.client_id, t.session_date, t.session_number,
        t.session_number - 1 AS i,
        coalesce(t.protector_trust >= $protector_trust_min::INTEGER AND t.unblending IN ('partial', 'full'), false)
            AS q1,
        coalesce(t.exile_contact AND t.protector_permission, false) AS q2,
        coalesce(t.unburdening IN ('partial', 'complete'), false) AS q3,
        coalesce(t.protector_release IN ('partial', 'complete'), false) AS q4,
        e.client_id IS NOT NULL AS q5,
        coalesce(t.exile_contact AND NOT t.protector_permission, false) AS no_permission
    FROM treatment_sessions AS t
    LEFT JOIN self_events AS e USING (client_id, session_number)
),
r1 AS (SELECT client_id, min(i) FILTER (WHERE q1) AS r1 FROM events GROUP BY client_id),
r2 AS (SELECT client_id, any_value(r1) AS r1, min(i) FILTER (WHERE q2 AND i >= r1) AS r2
       FROM events JOIN r1 USING (client_id) GROUP BY client_id),
r3 AS (SELECT client_id, any_value(r1) AS r1, any_value(r2) AS r2, min(i) FILTER (WHERE q3 AND i >= r2) AS r3
       FROM events JOIN r2 USING (client_id) GROUP BY client_id),
r4 AS (SELECT client_id, any_value(r1) AS r1, any_value(r2) AS r2, any_value(r3) AS r3,
              min(i) FILTER (WHERE q4 AND i >= r3) AS r4
       FROM events JOIN r3 USING (client_id) GROUP BY client_id),
reached AS (SELECT client_id, any_value(r1) AS r1, any_value(r2) AS r2, any_value(r3) AS r3, any_value(r4) AS r4,
                   min(i) FILTER (WHERE q5 AND i >= r4) AS r5
            FROM events JOIN r4 USING (client_id) GROUP BY client_id)
SELECT
    e.client_id,
    min(e.session_date) FILTER (WHERE e.i = r.r1) AS m1_date,
    min(e.session_number) FILTER (WHERE e.i = r.r1) AS m1_session,
    (min(e.session_date) FILTER (WHERE e.i = r.r1) - min(e.session_date))::BIGINT AS m1_days,
    min(e.session_date) FILTER (WHERE e.i = r.r2) AS m2_date,
    min(e.session_number) FILTER (WHERE e.i = r.r2) AS m2_session,
    (min(e.session_date) FILTER (WHERE e.i = r.r2) - min(e.session_date))::BIGINT AS m2_days,
    min(e.session_date) FILTER (WHERE e.i = r.r3) AS m3_date,
    min(e.session_number) FILTER (WHERE e.i = r.r3) AS m3_session,
    (min(e.session_date) FILTER (WHERE e.i = r.r3) - min(e.session_date))::BIGINT AS m3_days,
    min(e.session_date) FILTER (WHERE e.i = r.r4) AS m4_date,
    min(e.session_number) FILTER (WHERE e.i = r.r4) AS m4_session,
    (min(e.session_date) FILTER (WHERE e.i = r.r4) - min(e.session_date))::BIGINT AS m4_days,
    min(e.session_date) FILTER (WHERE e.i = r.r5) AS m5_date,
    min(e.session_number) FILTER (WHERE e.i = r.r5) AS m5_session,
    (min(e.session_date) FILTER (WHERE e.i = r.r5) - min(e.session_date))::BIGINT AS m5_days,
    ((any_value(r.r1) IS NOT NULL)::INT + (any_value(r.r2) IS NOT NULL)::INT + (any_value(r.r3) IS NOT NULL)::INT
        + (any_value(r.r4) IS NOT NULL)::INT + (any_value(r.r5) IS NOT NULL)::INT)::BIGINT AS stage_reached,
    min(e.session_date) AS first_session_date,
    max(e.session_number)::BIGINT AS last_session,
    (max(e.session_date) - min(e.session_date))::BIGINT AS last_days,
    count(*) FILTER (WHERE e.q2 AND (r.r1 IS NULL OR e.i < r.r1))::BIGINT AS m2_before_m1,
    count(*) FILTER (WHERE e.q3 AND (r.r2 IS NULL OR e.i < r.r2))::BIGINT AS m3_before_m2,
    count(*) FILTER (WHERE e.q4 AND (r.r3 IS NULL OR e.i < r.r3))::BIGINT AS m4_before_m3,
    count(*) FILTER (WHERE e.q5 AND (r.r4 IS NULL OR e.i < r.r4))::BIGINT AS m5_before_m4,
    count(*) FILTER (WHERE e.no_permission)::BIGINT AS exile_contact_without_permission
FROM events AS e
JOIN reached AS r USING (client_id)
GROUP BY e.client_id
