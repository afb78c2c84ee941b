-- The NHS Talking Therapies composite metrics of finished treatment for one period: every level of one dimension
-- plus the overall row.
SELECT * FROM aggregate.nhs_outcomes
WHERE period = $period AND dimension IN ($dimension, 'overall')
ORDER BY dimension = 'overall' DESC, level
