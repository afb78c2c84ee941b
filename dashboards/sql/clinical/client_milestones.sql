-- One episode's IFS milestones and sequence deviations.
SELECT * FROM clinical.milestones WHERE client_id = $client_id
