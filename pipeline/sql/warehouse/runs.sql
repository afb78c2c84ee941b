-- Purpose: the run ledger: every attempt to load a batch, including rejected and already-loaded ones.
-- Grain: one row per run_id (one batch in one invocation).
-- Inputs: the pipeline itself.
-- Reference: DESIGN section 3, "Batch identity" and "Exit codes and the summary".
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY,
    batch_id VARCHAR NOT NULL,
    batch_path VARCHAR NOT NULL,
    content_hash VARCHAR NOT NULL,
    file_hashes VARCHAR NOT NULL,          -- JSON object: file name -> sha256
    as_of DATE,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP NOT NULL,
    status VARCHAR NOT NULL,               -- loaded | loaded_with_quarantine | rejected | already_loaded | removed
    counts VARCHAR NOT NULL,               -- JSON object: table -> received/loaded/quarantined/duplicates
    quarantine_by_rule VARCHAR NOT NULL,   -- JSON object: rule -> count
    message VARCHAR,
    code_version VARCHAR NOT NULL,
    schema_version VARCHAR NOT NULL,
    registry_version VARCHAR NOT NULL
);
