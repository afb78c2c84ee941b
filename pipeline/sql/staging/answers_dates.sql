-- Purpose: every distinct `administered_on` text of a staged answers file, typed, with whether the compiled
--          contract clears it (the `ok` term: canonical date, not after the as-of date) — judged once per date, not once per row.
-- Grain: one row per distinct text.
-- Inputs: `answers` (staged text).
-- Reference: `schemas/compile.py`; `answers_admins.sql` joins it.
SELECT administered_on AS text, {ok} AS ok, TRY_CAST(administered_on AS DATE) AS day
FROM (SELECT DISTINCT administered_on FROM answers WHERE administered_on IS NOT NULL)
