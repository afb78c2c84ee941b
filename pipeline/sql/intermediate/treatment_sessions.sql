-- Purpose: the attended treatment sessions (intake, regular, closing — not consultations), numbered: the one
--          definition of what a session number counts (DESIGN 5.2).
-- Grain: one row per attended treatment session.
-- Inputs: warehouse table sessions.
-- Reference: DESIGN 5.2; docs/indicators.md §3. Python's twin for the researcher API: change.treatment_sessions.
-- Missing data: none (every column of the warehouse row is kept); ties on a date are ordered by session_id.
SELECT
    s.*,
    row_number() OVER (PARTITION BY client_id ORDER BY session_date, session_id) AS session_number
FROM sessions AS s
WHERE status = 'attended' AND kind <> 'consultation'
