-- Purpose: the loaded scheduled sessions with clinician-rated IFS process markers.
-- Grain: one row per session_id; a corrected re-export replaces the row.
-- Inputs: the validated `sessions` input table of each batch.
-- Reference: DESIGN section 3, sessions.
CREATE TABLE IF NOT EXISTS sessions (
    session_id VARCHAR PRIMARY KEY,
    client_id VARCHAR NOT NULL,
    clinician_id VARCHAR NOT NULL,
    session_date DATE NOT NULL,
    kind VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    modality VARCHAR NOT NULL,
    location_id VARCHAR,
    duration_min BIGINT,
    focus_goal BIGINT,
    self_energy BIGINT,
    protector_trust BIGINT,
    polarization BIGINT,
    unblending VARCHAR,
    exile_contact BOOLEAN,
    protector_permission BOOLEAN,
    exile_witnessed BOOLEAN,
    unburdening VARCHAR,
    protector_release VARCHAR,
    resistance BIGINT,
    commitments_set BIGINT,
    commitments_kept BIGINT,
    batch_id VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL
);
