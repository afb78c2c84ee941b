-- Purpose: the risk items of each episode's latest administration of an instrument that has them (the registry's
--          `risk` items: PHQ-9 item 9) — a flag for review, not a safety system.
-- Grain: one row per client_id × instrument with risk items and any administration.
-- Inputs: warehouse table measures; registry_risk_items (from the instrument registry).
-- Reference: DESIGN 5.10; schemas/instruments/*.toml `risk`.
-- Missing data: a skipped (or absent) risk item is `risk_unanswered`, never a positive flag.
WITH latest AS (
    SELECT m.client_id, m.instrument, max(m.administered_on) AS risk_date
    FROM measures AS m WHERE m.instrument IN (SELECT instrument FROM registry_risk_items)
    GROUP BY m.client_id, m.instrument
),
answers AS (
    SELECT l.client_id, l.instrument, max(m.value) AS risk_value, count(m.value) AS answered
    FROM latest AS l
    JOIN measures AS m ON m.client_id = l.client_id AND m.instrument = l.instrument AND m.administered_on = l.risk_date
    JOIN registry_risk_items AS r ON r.instrument = m.instrument AND r.item = m.item
    GROUP BY l.client_id, l.instrument
),
expected AS (SELECT instrument, count(*) AS n, string_agg(item, ';' ORDER BY item) AS items
             FROM registry_risk_items GROUP BY instrument)
SELECT l.client_id, l.instrument, x.items AS risk_items, l.risk_date, a.risk_value,
    coalesce(a.risk_value > 0, false) AS risk_positive,
    coalesce(a.answered, 0) < x.n AS risk_unanswered
FROM latest AS l
JOIN expected AS x USING (instrument)
LEFT JOIN answers AS a USING (client_id, instrument)
