-- Purpose: the loaded client episodes (record-level; pseudonymous ids only).
-- Grain: one row per client_id (episode of care); a corrected re-export replaces the row.
-- Inputs: the validated `clients` input table of each batch.
-- Reference: DESIGN section 3, clients.
CREATE TABLE IF NOT EXISTS clients (
    client_id VARCHAR PRIMARY KEY,
    practice_id VARCHAR NOT NULL,
    clinician_id VARCHAR NOT NULL,
    service VARCHAR NOT NULL,
    intake_date DATE,
    age_band VARCHAR,
    gender VARCHAR,
    helping_professional BOOLEAN NOT NULL,
    profession VARCHAR,
    presenting_themes VARCHAR,
    discharge_date DATE,
    discharge_reason VARCHAR,
    batch_id VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL
);
