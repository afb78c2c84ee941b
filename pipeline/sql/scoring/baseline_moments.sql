-- Purpose: what Cronbach's alpha of each scale needs from the practice's own baselines — per scale, the number of
--          complete baseline administrations, and the sum and sum of squares of each item and of the total — so
--          alpha is computed from a few numbers per scale (`pipeline.outcomes.reliability_from_moments`), never
--          from the answers in Python. Sums, not DuckDB's variances: with integer answers they are exact in any
--          order, so alpha is the same on every run (a parallel variance is not, in its last digits).
-- Grain: one row per (instrument, scale, item) with the scale's count and total sums repeated.
-- Inputs: `measures`; `_baselines` (client_id, instrument, administered_on of every baseline); `_scale_items`.
-- Reference: `pipeline.change.cronbach_alpha` and `pipeline.score.baseline_item_matrix` (complete rows only: every
--            item of the scale answered, reversal applied).
WITH answers AS (
    SELECT b.client_id, b.instrument, b.administered_on, si.scale, si.item, si.n_items,
           CASE WHEN si.reverse THEN si.item_min + si.item_max - m.value ELSE m.value END AS adjusted
    FROM measures AS m
    JOIN _baselines AS b
        ON b.client_id = m.client_id AND b.instrument = m.instrument AND b.administered_on = m.administered_on
    JOIN _scale_items AS si ON si.instrument = m.instrument AND si.item = m.item
),
complete AS (
    SELECT client_id, instrument, administered_on, scale
    FROM answers
    GROUP BY ALL
    HAVING count(adjusted) = any_value(n_items)
),
rows AS (
    SELECT a.* FROM answers AS a SEMI JOIN complete USING (client_id, instrument, administered_on, scale)
),
totals AS (
    SELECT instrument, scale, count(*) AS n, sum(total) AS total_sum, sum(total * total) AS total_squares
    FROM (SELECT instrument, scale, sum(adjusted) AS total FROM rows
          GROUP BY client_id, instrument, administered_on, scale)
    GROUP BY ALL
)
SELECT r.instrument, r.scale, r.item, sum(r.adjusted) AS item_sum, sum(r.adjusted * r.adjusted) AS item_squares,
       any_value(t.n) AS n, any_value(t.total_sum) AS total_sum, any_value(t.total_squares) AS total_squares
FROM rows AS r
JOIN totals AS t USING (instrument, scale)
GROUP BY r.instrument, r.scale, r.item
