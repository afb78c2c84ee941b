-- Sessions, attendance, intakes and endings by month for one breakdown level.
SELECT * FROM aggregate.engagement_by_period
WHERE period_type = 'month' AND dimension = $dimension AND level = $level
ORDER BY period
