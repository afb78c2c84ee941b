-- Coaching outcomes for one start period, every level of one dimension plus overall.
SELECT * FROM aggregate.coaching_summary
WHERE period = $period AND dimension IN ($dimension, 'overall')
ORDER BY dimension = 'overall' DESC, level
