-- Batches loaded and rows received, loaded, quarantined and collapsed over all of them (one row).
SELECT * FROM aggregate.data_quality_summary
