-- One episode's every scored administration (its trajectory).
SELECT * FROM clinical.client_scores WHERE client_id = $client_id ORDER BY instrument, scale, administered_on
