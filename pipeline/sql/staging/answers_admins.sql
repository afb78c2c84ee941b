-- Purpose: the fast path's verdict on a staged answers file, per administration: whether the compiled contract and
--          the context tables clear every row of it, whether an item repeats in it (a duplicate of any kind), and
--          how many supplied scale scores it carries (those are checked against their items apart).
-- Grain: one row per (client_id, instrument, administered_on) as text, as staged.
-- Inputs: `answers` (staged text) and small tables, each value judged once by the compiled contract (`ok`), not
--         once per row: `_dates` and `_values` (every distinct text of those columns, typed), `_clients`
--         (episodes a row may belong to: valid in this batch or loaded and not resent, none quarantined),
--         `_sessions` (the session index: the session's client and whether it is quarantined), `_items` (the
--         registry's enabled item and scale ids with their range and a bit per id within its instrument).
-- Reference: DESIGN section 3 (measures and their context rules); `schemas/compile.py` (the `ok` terms, from the
--            Pandera model). A repeated id shows as sum(1 << bit) <> bit_or(1 << bit): no key is hashed per row.
SELECT a.client_id, a.instrument, a.administered_on,
       bool_and(
           coalesce(d.ok, FALSE)
           AND (a.value IS NULL OR coalesce(v.ok AND v.number BETWEEN i.lo AND i.hi, FALSE))
           AND coalesce(c.ok, FALSE)
           AND coalesce(i.ok, FALSE)
           AND (a.session_id IS NULL OR coalesce(s.ok AND s.client_id = a.client_id AND NOT s.quarantined, FALSE))
           AND coalesce(d.day >= c.intake_date - CAST($window_days AS INTEGER), TRUE)
       ) AS clean,
       sum(1::BIGINT << i.bit) <> bit_or(1::BIGINT << i.bit) AS repeated,
       count(*) FILTER (WHERE i.is_scale AND a.value IS NOT NULL) AS supplied
FROM answers AS a
LEFT JOIN _dates AS d ON d.text = a.administered_on
LEFT JOIN _values AS v ON v.text = a.value
LEFT JOIN _clients AS c ON c.client_id = a.client_id
LEFT JOIN _sessions AS s ON s.session_id = a.session_id
LEFT JOIN _items AS i ON i.instrument = a.instrument AND i.item = a.item
GROUP BY a.client_id, a.instrument, a.administered_on
