-- One scale's finished-treatment outcomes by month or quarter of discharge for one breakdown level.
SELECT * FROM aggregate.outcome_summary
WHERE population = 'finished_treatment' AND period_type = $period_type AND dimension = $dimension
    AND level = $level AND instrument = $instrument AND scale = $scale
ORDER BY period
