-- Sessions, attendance, intakes and endings in one period (quarter or month) for one breakdown level.
SELECT * FROM aggregate.engagement_by_period
WHERE period = $period AND dimension = $dimension AND level = $level
