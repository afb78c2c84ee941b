-- Purpose: one row per episode of care with its engagement facts (DESIGN 5.7) — sessions scheduled / attended /
--          cancelled / no-show, attendance, cadence, duration, how it ended, lapse — and its dimensions, the one
--          definition every roll-up cuts by (DESIGN 5.2): practice, service, modality, location, cohort.
-- Grain: one row per client_id (episode).
-- Inputs: warehouse tables clients, sessions; parameters $as_of (the warehouse's as-of date, never the wall
--         clock), $lapse_days (settings engagement.lapse_days: an open episode with no attended session in that
--         many days is lapsed), $modality_share (engagement.modality_share: 0.75) and $finished_min_attended
--         (outcomes.finished_min_attended: 2). outcome_population: `finished_treatment` (discharged with at least
--         that many attended treatment sessions), `in_treatment` (open, not lapsed), `lapsed`, or empty (ended
--         with fewer sessions; consultation only).
-- Reference: DESIGN 5.2 (episode dimensions) and 5.7; ending groups follow NHS Talking Therapies practice.
-- Missing data: consultation-only episodes (no intake) carry consultation_only = true and are left out of
--         lapse and dropout; an episode with no attended treatment session has null cadence, modality `none`
--         and location `none` (every episode sits in exactly one level of every dimension, so the levels of a
--         dimension add up to the overall row).
WITH treatment AS (
    SELECT * FROM sessions WHERE kind <> 'consultation'
),
attended AS (
    SELECT *, session_date - lag(session_date) OVER (PARTITION BY client_id ORDER BY session_number) AS gap_days
    FROM treatment_sessions
),
per_episode AS (
    SELECT
        client_id,
        count(*) AS scheduled,
        count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
        count(*) FILTER (WHERE status = 'no_show') AS no_show
    FROM treatment GROUP BY client_id
),
attended_summary AS (
    SELECT
        client_id,
        count(*) AS attended,
        min(session_date) AS first_attended_date,
        max(session_date) AS last_attended_date,
        median(gap_days) AS median_gap_days,
        count(*) FILTER (WHERE modality = 'in_person') AS in_person_attended,
        count(*) FILTER (WHERE modality = 'telehealth') AS telehealth_attended,
        avg(duration_min) AS mean_duration_min
    FROM attended GROUP BY client_id
),
location_counts AS (
    SELECT client_id, location_id, count(*) AS n
    FROM attended WHERE modality = 'in_person' AND location_id IS NOT NULL
    GROUP BY client_id, location_id
),
main_location AS (
    -- the most frequent in-person location; ties go to the first id in sort order (deterministic)
    SELECT client_id, location_id FROM location_counts
    QUALIFY row_number() OVER (PARTITION BY client_id ORDER BY n DESC, location_id) = 1
),
consultations AS (
    SELECT client_id, count(*) FILTER (WHERE status = 'attended') AS consultations_attended
    FROM sessions WHERE kind = 'consultation' GROUP BY client_id
)
SELECT
    c.client_id,
    c.practice_id,
    c.clinician_id,
    c.service,
    c.helping_professional,
    c.intake_date IS NULL AS consultation_only,
    coalesce(k.consultations_attended, 0) AS consultations_attended,
    coalesce(p.scheduled, 0) AS scheduled,
    coalesce(a.attended, 0) AS attended,
    coalesce(p.cancelled, 0) AS cancelled,
    coalesce(p.no_show, 0) AS no_show,
    CASE WHEN coalesce(p.scheduled, 0) > 0 THEN coalesce(a.attended, 0)::DOUBLE / p.scheduled END AS attendance_rate,
    a.first_attended_date,
    a.last_attended_date,
    a.median_gap_days::DOUBLE AS median_gap_days,
    coalesce(a.in_person_attended, 0) AS in_person_attended,
    coalesce(a.telehealth_attended, 0) AS telehealth_attended,
    CASE
        WHEN coalesce(a.attended, 0) = 0 THEN 'none'
        WHEN a.in_person_attended >= $modality_share::DOUBLE * a.attended THEN 'in_person'
        WHEN a.telehealth_attended >= $modality_share::DOUBLE * a.attended THEN 'telehealth'
        ELSE 'mixed'
    END AS modality,
    coalesce(l.location_id, 'none') AS location,
    a.mean_duration_min,
    c.discharge_date,
    c.discharge_reason,
    c.discharge_date IS NOT NULL AS ended,
    CASE
        WHEN c.discharge_reason IN ('completed', 'mutual_agreement', 'referred_to_therapy', 'referred_to_coaching') THEN 'planned'
        WHEN c.discharge_reason IN ('client_withdrew', 'lost_contact') THEN 'unplanned'
        WHEN c.discharge_reason = 'other' THEN 'other'
    END AS ending,
    c.intake_date IS NOT NULL AND c.discharge_date IS NULL
        AND (a.last_attended_date IS NULL OR a.last_attended_date < $as_of::DATE - $lapse_days::INTEGER) AS lapsed,
    CASE  -- the outcome populations (docs/indicators.md §3), decided here once
        WHEN c.discharge_date IS NOT NULL AND coalesce(a.attended, 0) >= $finished_min_attended::INTEGER
            THEN 'finished_treatment'
        WHEN c.intake_date IS NULL OR c.discharge_date IS NOT NULL THEN NULL
        WHEN a.last_attended_date IS NULL OR a.last_attended_date < $as_of::DATE - $lapse_days::INTEGER THEN 'lapsed'
        ELSE 'in_treatment'
    END AS outcome_population,
    c.practice_id AS practice,
    CASE WHEN c.helping_professional THEN 'helping_professional' ELSE 'other_clients' END AS cohort
FROM clients AS c
LEFT JOIN per_episode AS p USING (client_id)
LEFT JOIN attended_summary AS a USING (client_id)
LEFT JOIN main_location AS l USING (client_id)
LEFT JOIN consultations AS k USING (client_id)
ORDER BY c.client_id
