-- Paired outcomes by presenting theme (all time).
SELECT * FROM aggregate.outcomes_by_theme ORDER BY instrument, scale, theme
