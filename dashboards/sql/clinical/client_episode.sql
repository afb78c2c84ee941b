-- One episode's engagement facts.
SELECT * FROM clinical.episode_engagement WHERE client_id = $client_id
