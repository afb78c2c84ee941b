-- Instrument scales with published outcomes.
SELECT DISTINCT instrument, scale FROM aggregate.outcome_summary ORDER BY instrument, scale
