-- One period's finished-treatment figures against the previous period (with the 95% CI of the difference), for
-- one breakdown level: the chosen scale's (outcome_summary) and the NHS composite's (nhs_outcomes).
SELECT * FROM aggregate.period_comparison
WHERE period = $period AND dimension = $dimension AND level = $level
    AND (source = 'nhs_outcomes' OR (instrument = $instrument AND scale = $scale))
ORDER BY source, metric
