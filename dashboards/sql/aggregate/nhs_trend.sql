-- The NHS composite metrics by month or quarter of discharge for one breakdown level.
SELECT * FROM aggregate.nhs_outcomes
WHERE period_type = $period_type AND dimension = $dimension AND level = $level
ORDER BY period
