-- Published periods of finished treatment (by discharge date): all, then quarters and months, newest first.
SELECT DISTINCT period_type, period FROM aggregate.outcome_summary
WHERE population = 'finished_treatment'
ORDER BY CASE period_type WHEN 'all' THEN 0 WHEN 'quarter' THEN 1 ELSE 2 END, period DESC
