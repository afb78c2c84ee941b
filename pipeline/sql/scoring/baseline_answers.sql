-- Purpose: the answers of every complete baseline administration (reversal applied), kept in the warehouse so
--          Cronbach's alpha is a sum over them (`baseline_moments.sql`) and an incremental refresh replaces only
--          the rows of the clients it touched instead of joining every answer with every baseline again.
-- Grain: one row per (client_id, instrument, scale, item) of a baseline with every item of its scale answered.
-- Inputs: `measures`; `_baselines` (client_id, instrument, administered_on of the baselines to keep);
--         `_scale_items` (registry: scale membership, reversal).
-- Reference: `pipeline.score.baseline_item_matrix` (complete rows only) and `pipeline.change.cronbach_alpha`.
WITH answers AS (
    SELECT b.client_id, b.instrument, si.scale, si.item, si.n_items,
           CASE WHEN si.reverse THEN si.item_min + si.item_max - m.value ELSE m.value END AS adjusted
    FROM measures AS m
    JOIN _baselines AS b
        ON b.client_id = m.client_id AND b.instrument = m.instrument AND b.administered_on = m.administered_on
    JOIN _scale_items AS si ON si.instrument = m.instrument AND si.item = m.item
),
complete AS (
    SELECT client_id, instrument, scale FROM answers GROUP BY ALL HAVING count(adjusted) = any_value(n_items)
)
SELECT a.client_id, a.instrument, a.scale, a.item, a.adjusted::DOUBLE AS adjusted
FROM answers AS a
SEMI JOIN complete AS c ON c.client_id = a.client_id AND c.instrument = a.instrument AND c.scale = a.scale
