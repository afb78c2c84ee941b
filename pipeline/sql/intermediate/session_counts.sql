-- Purpose: how many attended treatment sessions an episode had by the end of each date it had one — what an
--          event's session number is looked up in (`ASOF` join: the last such date on or before the event).
-- Grain: one row per client_id × session_date with an attended treatment session.
-- Inputs: treatment_sessions.
-- Reference: DESIGN 5.2 ("an administration's session number is the count of attended non-consultation sessions
--            on or before its date").
-- Missing data: an event before the first treatment session finds no row: its session number is 0.
SELECT client_id, session_date, max(session_number) AS session_number
FROM treatment_sessions
GROUP BY client_id, session_date
