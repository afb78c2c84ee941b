-- Self-leadership measures by attended session number for one breakdown level and start period.
SELECT * FROM aggregate.self_leadership_trajectory
WHERE period = $period AND dimension = $dimension AND level = $level
ORDER BY measure, session_number
