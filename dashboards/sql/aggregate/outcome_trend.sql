-- One scale's outcomes by month for one breakdown level (period = month of the latest administration).
SELECT * FROM aggregate.outcome_summary
WHERE period_type = 'month' AND dimension = $dimension AND level = $level AND instrument = $instrument AND scale = $scale
ORDER BY period
