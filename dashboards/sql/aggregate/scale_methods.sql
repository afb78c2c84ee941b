-- How each scale's numbers were computed (one row per instrument scale): the Methods page prints these rules.
SELECT * FROM aggregate.scale_methods ORDER BY instrument, scale
