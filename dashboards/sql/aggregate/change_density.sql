-- Baseline × latest grid of paired episodes for one scale and breakdown level (the aggregate Jacobson plot).
SELECT * FROM aggregate.change_density
WHERE instrument = $instrument AND scale = $scale AND dimension = $dimension AND level = $level AND cell <> 'all'
ORDER BY baseline_bin, latest_bin
