-- Purpose: the fast path's verdict on a staged answers file, per administration: whether the compiled contract and
--          the context tables clear every row of it, whether an item repeats in it (a duplicate of any kind), and
--          how many supplied scale scores it carries (those are checked against their items apart).
-- Grain: one row per (client_id, instrument, administered_on) as text, as staged.
-- Inputs: `answers` (staged text); `_clients` (episodes a row may belong to: valid in this batch or loaded and not
--         resent, none quarantined; `ok` = its client_id passes the contract), `_sessions` (the session index:
--         `ok`, the session's client and whether it is quarantined), `_items` (the registry's enabled items and
--         scale ids with range, a bit per id within its instrument, `ok`).
-- Reference: DESIGN section 3 (measures, context rules); `schemas/compile.py` writes the `ok` term (the contract's
--            per-row terms for the date and the value) from the Pandera model. A repeated id shows as
--            sum(1 << bit) <> bit_or(1 << bit): no key is hashed per row.
SELECT r.client_id, r.instrument, r.administered_on,
       bool_and(
           r.ok
           AND coalesce(c.ok, FALSE)
           AND coalesce(i.ok, FALSE)
           AND (r.value IS NULL OR r.value BETWEEN i.lo AND i.hi)
           AND (r.session_id IS NULL OR coalesce(s.ok AND s.client_id = r.client_id AND NOT s.quarantined, FALSE))
           AND coalesce(r.administered_on_date >= c.intake_date - CAST($window_days AS INTEGER), TRUE)
       ) AS clean,
       sum(1::BIGINT << i.bit) <> bit_or(1::BIGINT << i.bit) AS repeated,
       count(*) FILTER (WHERE i.is_scale AND r.value IS NOT NULL) AS supplied
FROM (
    SELECT client_id, session_id, instrument, administered_on, item,
           TRY_CAST(administered_on AS DATE) AS administered_on_date,
           TRY_CAST(value AS DOUBLE) AS value,
           {clean} AS ok
    FROM (SELECT client_id, session_id, instrument, administered_on, item, {value} AS value FROM answers)
) AS r
LEFT JOIN _clients AS c ON c.client_id = r.client_id
LEFT JOIN _sessions AS s ON s.session_id = r.session_id
LEFT JOIN _items AS i ON i.instrument = r.instrument AND i.item = r.item
GROUP BY r.client_id, r.instrument, r.administered_on
