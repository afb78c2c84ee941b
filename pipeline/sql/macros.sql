-- Purpose: the rules every SQL model shares, each defined once (Python's twins are in pipeline/change.py and a
--          differential test holds the two to each other: tests/test_marts_units.py).
-- Reference: DESIGN 5.3; docs/indicators.md §4-5.
-- The direction of a scale: +1 when higher scores are better, else -1 (the `s` of every formula).
CREATE OR REPLACE TEMP MACRO direction(higher_is_better) AS CASE WHEN higher_is_better THEN 1.0 ELSE -1.0 END;
-- Reliable improvement of a signed change (s·change) under a scale's rule: `points` is a conventional threshold
-- met or exceeded (PHQ-9 6, GAD-7 4); Jacobson-Truax (`jacobson_truax`) must strictly exceed its critical
-- difference z·√2·SD·√(1 − r). NULL when the scale has no rule.
CREATE OR REPLACE TEMP MACRO reliably_improved(signed_change, rc_rule, rc_threshold) AS
    CASE WHEN rc_rule = 'points' THEN signed_change >= rc_threshold
         WHEN rc_rule IS NOT NULL THEN signed_change > rc_threshold END;
-- Clinical status: on the dysfunctional side of the cutoff, or exactly on it (PHQ-9 >= 10 is clinical).
CREATE OR REPLACE TEMP MACRO is_clinical(score, cutoff, higher_is_better) AS
    direction(higher_is_better) * score <= direction(higher_is_better) * cutoff;
-- The period an episode-level date falls in, for each period type published ('all', its quarter, its month).
CREATE OR REPLACE TEMP MACRO quarter_of(d) AS strftime(d, '%Y') || '-Q' || quarter(d)::VARCHAR;
CREATE OR REPLACE TEMP MACRO month_of(d) AS strftime(d, '%Y-%m');
