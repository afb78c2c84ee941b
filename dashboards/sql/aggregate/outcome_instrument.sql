-- Every scale of one instrument for every level of one dimension, one population and period (ProQOL by cohort).
SELECT * FROM aggregate.outcome_summary
WHERE population = $population AND period = $period AND instrument = $instrument
    AND dimension IN ($dimension, 'overall')
ORDER BY scale, dimension = 'overall' DESC, level
