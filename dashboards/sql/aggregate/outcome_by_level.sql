-- One scale's outcomes for every level of one dimension (plus the overall row), one population and period.
SELECT * FROM aggregate.outcome_summary
WHERE population = $population AND period = $period AND instrument = $instrument AND scale = $scale
    AND dimension IN ($dimension, 'overall')
ORDER BY dimension = 'overall' DESC, level
