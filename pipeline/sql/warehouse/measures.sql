-- Purpose: the loaded questionnaire answers, one item (or supplied scale score) per row; null value = skipped.
-- Grain: one row per (client_id, instrument, administered_on, item).
-- Inputs: the validated `measures` input table of each batch.
-- Reference: DESIGN section 3, measures; the instrument registry (section 4).
CREATE TABLE IF NOT EXISTS measures (
    client_id VARCHAR NOT NULL,
    session_id VARCHAR,
    instrument VARCHAR NOT NULL,
    administered_on DATE NOT NULL,
    item VARCHAR NOT NULL,
    value DOUBLE,
    batch_id VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL
);
-- No PRIMARY KEY: at national scale (30M rows) DuckDB's ART index costs more memory than the table. The load
-- stage deduplicates in polars and replaces by key; tests assert the grain is unique.
