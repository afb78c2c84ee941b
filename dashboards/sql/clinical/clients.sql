-- Episodes in the chosen breakdown, for picking one client.
SELECT e.client_id FROM clinical.episode_engagement e WHERE in_breakdown(e, $dimension, $level) ORDER BY e.client_id
