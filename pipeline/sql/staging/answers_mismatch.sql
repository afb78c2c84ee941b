-- Purpose: the clients of administrations whose supplied scale score may disagree with its complete items
--          (`total_mismatch`): only administrations that carry a supplied score are scored, and only one that
--          clearly agrees (within half the tolerance) stays on the fast path — Pandera's side judges the rest.
-- Grain: one row per client_id.
-- Inputs: `answers` (staged text), `_supplied` (administrations cleared so far that carry a supplied score),
--         `_items` (registry ids; `is_scale`), `_scale_items` (scale membership, reversal, method).
-- Reference: `pipeline.score.score_items` (the one definition of a score) and `pipeline.validate._measure_rules`.
WITH answered AS (
    SELECT a.client_id, a.instrument, a.administered_on, a.item, TRY_CAST({value} AS DOUBLE) AS value
    FROM answers AS a
    SEMI JOIN _supplied AS p
        ON p.client_id = a.client_id AND p.instrument = a.instrument AND p.administered_on = a.administered_on
),
scored AS (
    SELECT a.client_id, a.instrument, a.administered_on, si.scale, any_value(si.method) AS method,
           any_value(si.n_items) AS n_items,
           count(v.adjusted) AS n_answered, sum(v.adjusted) AS total, avg(v.adjusted) AS mean
    FROM answered AS a
    JOIN _scale_items AS si ON si.instrument = a.instrument AND si.item = a.item,
    LATERAL (SELECT CASE WHEN si.reverse THEN si.item_min + si.item_max - a.value ELSE a.value END AS adjusted) AS v
    GROUP BY a.client_id, a.instrument, a.administered_on, si.scale
),
supplied AS (
    SELECT a.client_id, a.instrument, a.administered_on, a.item AS scale, a.value AS supplied
    FROM answered AS a
    JOIN _items AS i ON i.instrument = a.instrument AND i.item = a.item
    WHERE i.is_scale AND a.value IS NOT NULL
)
SELECT DISTINCT p.client_id
FROM supplied AS p
JOIN scored AS s USING (client_id, instrument, administered_on, scale)
WHERE s.n_answered = s.n_items
  AND NOT abs(CASE WHEN s.method = 'mean' THEN s.mean ELSE s.total END - p.supplied)
      <= 0.5 * CASE WHEN s.method = 'mean' THEN $mean_tolerance ELSE 1e-9 END
