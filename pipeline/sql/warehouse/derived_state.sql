-- Purpose: the recovery record — which state of the loaded data each derived product reflects, so that any
--          refresh (even one with nothing new to load) finds what lags after an interruption and rebuilds it.
-- Grain: one row per derived product (`outcomes`: the tables scores, scale_reliability and client_change).
-- Inputs: written in the same transaction as the product it describes.
-- Reference: docs/data-contract.md, "Interruptions and recovery".
CREATE TABLE IF NOT EXISTS derived_state (
    product VARCHAR PRIMARY KEY,
    data_version VARCHAR NOT NULL,         -- run_id of the latest data-changing run (load or removal) reflected
    registry_version VARCHAR NOT NULL,
    settings_fingerprint VARCHAR NOT NULL,
    code_version VARCHAR NOT NULL,
    built_at TIMESTAMP NOT NULL
);
