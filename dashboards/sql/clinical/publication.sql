-- What the client-level numbers were computed with (one row).
SELECT * FROM clinical.publication
