-- Outcomes of every scale for one population, period (the as-of date for in treatment) and breakdown level.
SELECT * FROM aggregate.outcome_summary
WHERE population = $population AND period = $period AND dimension = $dimension AND level = $level
ORDER BY instrument, scale
