-- Paired episodes of one scale in the chosen breakdown: the client-level Jacobson plot.
SELECT c.client_id, c.baseline_score, c.latest_score, c.change, c.category, c.rc_threshold, c.cutoff,
       c.higher_is_better
FROM clinical.client_change c JOIN clinical.episode_engagement e USING (client_id)
WHERE c.paired AND c.instrument = $instrument AND c.scale = $scale AND in_breakdown(e, $dimension, $level)
ORDER BY c.client_id
