-- Engagement for one breakdown level (all time) and, for comparison, every level of its dimension.
SELECT * FROM aggregate.engagement_summary
WHERE dimension IN ($dimension, 'overall')
ORDER BY dimension = 'overall' DESC, level
