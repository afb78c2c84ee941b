-- Episodes with an early-warning flag in the chosen breakdown, open episodes first, then newest.
SELECT a.*, e.practice_id, e.clinician_id, e.service
FROM clinical.alerts a JOIN clinical.episode_engagement e USING (client_id)
WHERE a.any_flag AND in_breakdown(e, $dimension, $level)
ORDER BY a.episode_open DESC, a.latest_date DESC NULLS LAST, a.client_id, a.instrument, a.scale
