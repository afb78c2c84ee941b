-- One episode's baseline, latest and reliable change per scale.
SELECT * FROM clinical.client_change WHERE client_id = $client_id ORDER BY instrument, scale
