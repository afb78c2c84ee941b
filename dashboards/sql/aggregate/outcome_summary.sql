-- Outcomes of every scale for one breakdown level and period.
SELECT * FROM aggregate.outcome_summary
WHERE period = $period AND dimension = $dimension AND level = $level
ORDER BY instrument, scale
