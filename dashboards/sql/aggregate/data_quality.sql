-- Rows received, loaded, quarantined and collapsed per batch and table, and quarantined rows by rule.
SELECT * FROM aggregate.data_quality ORDER BY batch_id, table_name, measure, rule
