-- Time-to-milestone curves, both methods (cumulative incidence, the default; Kaplan-Meier, the sensitivity
-- analysis), overall; points only while at least k episodes are at risk.
SELECT * FROM aggregate.milestone_curves WHERE unit = $unit ORDER BY method, milestone, time
