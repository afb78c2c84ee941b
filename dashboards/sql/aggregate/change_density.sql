-- Baseline × latest grid of paired episodes for one population, scale and breakdown level (aggregate Jacobson plot).
SELECT * FROM aggregate.change_density
WHERE population = $population AND instrument = $instrument AND scale = $scale AND dimension = $dimension
    AND level = $level AND cell <> 'all'
ORDER BY baseline_bin, latest_bin
