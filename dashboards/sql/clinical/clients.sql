-- Episodes in the chosen breakdown whose id starts with what was typed, for picking one client: at most
-- $limit of them (a practice of 100,000 episodes must not ship every id to the browser), with how many match.
SELECT e.client_id, count(*) OVER () AS matches
FROM clinical.episode_engagement e
WHERE in_breakdown(e, $dimension, $level) AND starts_with(e.client_id, $prefix)
ORDER BY e.client_id
LIMIT $limit
