-- Purpose: what Cronbach's alpha of each scale needs from the practice's own baselines — per scale, the number of
--          complete baseline administrations, and the sum and sum of squares of each item and of the total — so
--          alpha is computed from a few numbers per scale (`pipeline.outcomes.reliability_from_moments`), never
--          from the answers in Python. Sums, not DuckDB's variances: with integer answers they are exact in any
--          order, so alpha is the same on every run (a parallel variance is not, in its last digits).
-- Grain: one row per (instrument, scale, item) with the scale's count and total sums repeated.
-- Inputs: `baseline_answers` (the complete baselines' answers, kept by the score stage).
-- Reference: `pipeline.change.cronbach_alpha`.
WITH totals AS (
    SELECT instrument, scale, count(*) AS n, sum(total) AS total_sum, sum(total * total) AS total_squares
    FROM (SELECT instrument, scale, sum(adjusted) AS total FROM baseline_answers
          GROUP BY client_id, instrument, scale)
    GROUP BY ALL
)
SELECT r.instrument, r.scale, r.item, sum(r.adjusted) AS item_sum, sum(r.adjusted * r.adjusted) AS item_squares,
       any_value(t.n) AS n, any_value(t.total_sum) AS total_sum, any_value(t.total_squares) AS total_squares
FROM baseline_answers AS r
JOIN totals AS t USING (instrument, scale)
GROUP BY r.instrument, r.scale, r.item
