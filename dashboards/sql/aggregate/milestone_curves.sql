-- Kaplan-Meier time-to-milestone curves (overall; points only while at least k episodes are at risk).
SELECT * FROM aggregate.milestone_curves WHERE unit = $unit ORDER BY milestone, time
