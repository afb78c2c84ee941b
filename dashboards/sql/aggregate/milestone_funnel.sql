-- The IFS milestone funnel for one breakdown level and start period, with every level of its dimension.
SELECT * FROM aggregate.milestone_funnel
WHERE period = $period AND dimension IN ($dimension, 'overall')
ORDER BY dimension = 'overall' DESC, level
