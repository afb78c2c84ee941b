-- Purpose: every distinct `value` text of a staged answers file, typed, with whether the compiled contract clears
--          it (the `ok` term: a canonical number; a decimal comma read as a point in a ';' file) — judged once per text.
-- Grain: one row per distinct text.
-- Inputs: `answers` (staged text).
-- Reference: `schemas/compile.py`; `answers_admins.sql` joins it.
SELECT text, {ok} AS ok, TRY_CAST(value AS DOUBLE) AS number
FROM (SELECT value AS text, {value} AS value FROM (SELECT DISTINCT value FROM answers WHERE value IS NOT NULL))
