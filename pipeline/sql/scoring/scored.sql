-- Purpose: one scale score per administration (DESIGN 5.1) — the SQL twin of `pipeline.score.build_scores`, run
--          over the warehouse so no answer enters Python; the severity band is joined after (`_bands`).
-- Grain: one row per (client_id, instrument, administered_on, scale).
-- Inputs: `measures` restricted to {clients} (all, or the clients a load touched); `_scale_items` (registry: each
--         scale's items, reversal, method, allowance), `_scale_facts` (each scale's range and item count).
-- Reference: `pipeline/score.py` (source order: complete items, else a supplied score, else prorated within the
--            allowance, else null with `too_many_missing_items`); POMP = 100·(score − min)/(max − min).
WITH computed AS (
    SELECT m.client_id, m.instrument, m.administered_on, si.scale,
           count(m.value) AS n_answered,
           sum(CASE WHEN si.reverse THEN si.item_min + si.item_max - m.value ELSE m.value END) AS total,
           avg(CASE WHEN si.reverse THEN si.item_min + si.item_max - m.value ELSE m.value END) AS mean,
           any_value(si.n_items) AS n_items, any_value(si.method) AS method, any_value(si.max_missing) AS max_missing
    FROM measures AS m
    JOIN _scale_items AS si ON si.instrument = m.instrument AND si.item = m.item
    WHERE {clients}
    GROUP BY m.client_id, m.instrument, m.administered_on, si.scale
),
items AS (
    SELECT *,
           CASE WHEN n_items - n_answered <= max_missing AND n_answered > 0 THEN
               CASE WHEN method = 'mean' THEN mean WHEN n_items = n_answered THEN total ELSE mean * n_items END
           END::DOUBLE AS score
    FROM computed
),
supplied AS (
    SELECT m.client_id, m.instrument, m.administered_on, m.item AS scale, any_value(m.value) AS supplied
    FROM measures AS m
    JOIN _scale_facts AS f ON f.instrument = m.instrument AND f.scale = m.item
    WHERE m.value IS NOT NULL AND {clients}
    GROUP BY ALL
),
sessions AS (  -- the first session id of the administration in load order (as the answers were read)
    SELECT m.client_id, m.instrument, m.administered_on, arg_min(m.session_id, m.rowid) AS session_id
    FROM measures AS m
    WHERE m.session_id IS NOT NULL AND {clients}
    GROUP BY ALL
),
merged AS (
    SELECT coalesce(i.client_id, p.client_id) AS client_id, coalesce(i.instrument, p.instrument) AS instrument,
           coalesce(i.administered_on, p.administered_on) AS administered_on, coalesce(i.scale, p.scale) AS scale,
           i.score AS item_score, i.n_items, i.n_answered, p.supplied
    FROM items AS i
    FULL JOIN supplied AS p
        ON p.client_id = i.client_id AND p.instrument = i.instrument AND p.administered_on = i.administered_on
       AND p.scale = i.scale
),
sourced AS (
    SELECT m.*, f.scale_min, f.scale_max, f.n_items_registry,
           CASE WHEN coalesce(m.n_answered = m.n_items, FALSE) THEN 'items'
                WHEN m.supplied IS NOT NULL THEN 'supplied'
                WHEN m.item_score IS NOT NULL THEN 'prorated' END AS source
    FROM merged AS m
    LEFT JOIN _scale_facts AS f ON f.instrument = m.instrument AND f.scale = m.scale
)
SELECT s.client_id, s.instrument, s.administered_on, x.session_id, s.scale,
       s.final_score AS score,
       100 * (s.final_score - s.scale_min) / (s.scale_max - s.scale_min) AS pomp,
       s.source,
       coalesce(s.n_items, s.n_items_registry)::BIGINT AS n_items,
       coalesce(s.n_answered, 0)::UINTEGER AS n_answered,
       coalesce(s.source = 'prorated', FALSE) AS prorated,
       CASE WHEN s.final_score IS NULL THEN 'too_many_missing_items' END AS incomplete_reason
FROM (
    SELECT *, CASE WHEN source = 'supplied' THEN supplied ELSE item_score END::DOUBLE AS final_score FROM sourced
) AS s
LEFT JOIN sessions AS x
    ON x.client_id = s.client_id AND x.instrument = s.instrument AND x.administered_on = s.administered_on
