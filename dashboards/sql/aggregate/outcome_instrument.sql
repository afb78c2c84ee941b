-- Every scale of one instrument for every level of one dimension, one period (e.g. ProQOL by cohort).
SELECT * FROM aggregate.outcome_summary
WHERE period = $period AND instrument = $instrument AND dimension IN ($dimension, 'overall')
ORDER BY scale, dimension = 'overall' DESC, level
