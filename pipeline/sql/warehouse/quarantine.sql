-- Purpose: every rule every quarantined input row broke, so nothing is lost and nothing is silent.
-- Grain: one row per (run_id, table_name, source_row, rule, column_name).
-- Inputs: the validation of each batch. Values that failed a pattern or enum rule are stored masked
--         (length and character classes) so a mistyped identifier never lands here.
-- Reference: DESIGN section 3, "Bad input".
CREATE TABLE IF NOT EXISTS quarantine (
    run_id VARCHAR NOT NULL,
    batch_id VARCHAR NOT NULL,
    table_name VARCHAR NOT NULL,
    source_row BIGINT NOT NULL,
    rule VARCHAR NOT NULL,
    column_name VARCHAR,
    value VARCHAR
);
