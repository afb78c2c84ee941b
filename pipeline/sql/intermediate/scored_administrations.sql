-- Purpose: every scored administration with its session number — a client's trajectory, and what the Self
--          trajectory, the M5 events and the alerts read.
-- Grain: one row per client_id × instrument × scale × administered_on with a score.
-- Inputs: warehouse table scores; session_counts.
-- Reference: DESIGN 5.1-5.2.
-- Missing data: incomplete administrations (score null) are left out; session number 0 before the first session.
SELECT
    sc.client_id, sc.instrument, sc.scale, sc.administered_on, sc.score, sc.pomp, sc.band,
    coalesce(n.session_number, 0) AS session_number
FROM scores AS sc
ASOF LEFT JOIN session_counts AS n
    ON sc.client_id = n.client_id AND sc.administered_on >= n.session_date
WHERE sc.score IS NOT NULL
