-- What the published numbers were computed with (one row).
SELECT * FROM aggregate.publication
