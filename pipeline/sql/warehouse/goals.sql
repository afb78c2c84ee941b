-- Purpose: the loaded coaching Goal Attainment Scaling ratings.
-- Grain: one row per (client_id, goal_id, rated_on).
-- Inputs: the validated `goals` input table of each batch.
-- Reference: DESIGN section 3, goals; Kiresuk & Sherman (1968).
CREATE TABLE IF NOT EXISTS goals (
    client_id VARCHAR NOT NULL,
    goal_id VARCHAR NOT NULL,
    weight BIGINT NOT NULL,
    set_on DATE NOT NULL,
    rated_on DATE NOT NULL,
    attainment BIGINT NOT NULL,
    batch_id VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL,
    PRIMARY KEY (client_id, goal_id, rated_on)
);
