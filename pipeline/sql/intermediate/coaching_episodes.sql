-- Purpose: one row per coaching episode (DESIGN 5.8, seed 002): GAS baseline, latest and change; commitment
--          follow-through; resistance trend; the first choice point — where the need for healing outgrows the
--          capacity for growth — and which of the seed's routes followed it.
-- Grain: one row per episode with service coaching or combined (coaching and therapy together).
-- Inputs: clients, treatment_sessions (resistance, commitments), caseness, gas_scores; parameters (settings
--         section coaching) $window (3), $resistance (7), $follow_through (0.5), $continued (3); $slope_min_points
--         (self_leadership.slope_min_points, 3).
-- Reference: DESIGN 5.8. Follow-through = Σ commitments kept / Σ commitments set in the previous attended
--            session. Choice point (practice-defined): the first attended session where the mean resistance over
--            it and the sessions before it ($window in all) is >= $resistance AND (follow-through over them is
--            below $follow_through OR the latest PHQ-9/GAD-7 on or before it is at caseness). The route that
--            followed, the first that applies (seed 002's three routes, then the others):
--              season_of_therapy        ended referred_to_therapy
--              coaching_and_therapy     the episode is coaching and therapy combined (service combined)
--              healing_within_coaching  a later attended session with exile contact or unburdening (IFS healing work)
--              continued_coaching       >= $continued further attended sessions, without healing work
--              ended_otherwise          discharged otherwise
--              too_early                open, fewer sessions since
--            (A therapy or combined episode of the same person after a coaching one would need a person id that the
--            contract does not carry: a referral shows as the ending reason.)
-- Missing data: the resistance mean needs a rating at every session of the window; follow-through is null
--         (not 0) when no commitment was set; the resistance slope needs $slope_min_points ratings.
WITH coaching AS (
    SELECT client_id, service, discharge_date, discharge_reason FROM clients WHERE service IN ('coaching', 'combined')
),
attended AS (
    SELECT t.client_id, t.session_date, t.session_number AS n, t.resistance, t.commitments_kept,
           coalesce(t.exile_contact OR t.unburdening IN ('partial', 'complete'), false) AS healing_work,
           lag(t.commitments_set) OVER (PARTITION BY t.client_id ORDER BY t.session_number) AS set_before
    FROM treatment_sessions AS t JOIN coaching USING (client_id)
),
rolling AS (
    SELECT *,
        CASE WHEN count(resistance) OVER w = $window::INTEGER THEN avg(resistance) OVER w END AS resistance_window,
        sum(CASE WHEN set_before IS NOT NULL THEN commitments_kept END) OVER w AS kept_window,
        sum(set_before) OVER w AS set_window
    FROM attended
    WINDOW w AS (PARTITION BY client_id ORDER BY n ROWS BETWEEN $window::INTEGER - 1 PRECEDING AND CURRENT ROW)
),
judged AS (
    SELECT r.*, c.clinical,
        CASE WHEN r.set_window > 0 THEN r.kept_window / r.set_window END AS follow_through_window
    FROM rolling AS r
    ASOF LEFT JOIN caseness AS c ON r.client_id = c.client_id AND r.session_date >= c.administered_on
),
choice_points AS (
    SELECT client_id, min(n) AS choice_point_session, arg_min(session_date, n) AS choice_point_date
    FROM judged
    WHERE resistance_window >= $resistance::DOUBLE
      AND (coalesce(follow_through_window < $follow_through::DOUBLE, false) OR coalesce(clinical, false))
    GROUP BY client_id
),
per_episode AS (
    SELECT client_id,
        max(n) AS attended_sessions,
        CASE WHEN sum(set_before) > 0
             THEN sum(commitments_kept) FILTER (WHERE set_before IS NOT NULL) / sum(set_before) END AS follow_through,
        CASE WHEN count(resistance) >= $slope_min_points::INTEGER THEN regr_slope(resistance, n) END
            AS resistance_slope
    FROM attended GROUP BY client_id
),
healing AS (
    SELECT a.client_id, bool_or(a.healing_work) AS healing_after
    FROM attended AS a JOIN choice_points AS cp ON cp.client_id = a.client_id AND a.n > cp.choice_point_session
    GROUP BY a.client_id
),
gas AS (
    SELECT client_id, arg_min(gas_t, rated_on) AS gas_t_baseline, arg_max(gas_t, rated_on) AS gas_t_latest,
           count(*) AS gas_ratings
    FROM gas_scores GROUP BY client_id
)
SELECT
    c.client_id, c.service, p.attended_sessions, g.gas_ratings, g.gas_t_baseline, g.gas_t_latest,
    g.gas_t_latest - g.gas_t_baseline AS gas_t_change,
    p.follow_through::DOUBLE AS follow_through, p.resistance_slope,
    cp.choice_point_date, cp.choice_point_session,
    CASE
        WHEN cp.choice_point_date IS NULL THEN NULL
        WHEN c.discharge_reason = 'referred_to_therapy' THEN 'season_of_therapy'
        WHEN c.service = 'combined' THEN 'coaching_and_therapy'
        WHEN coalesce(h.healing_after, false) THEN 'healing_within_coaching'
        WHEN p.attended_sessions - cp.choice_point_session >= $continued::INTEGER THEN 'continued_coaching'
        WHEN c.discharge_date IS NOT NULL THEN 'ended_otherwise'
        ELSE 'too_early'
    END AS after_choice_point,
    c.discharge_date, c.discharge_reason
FROM coaching AS c
LEFT JOIN per_episode AS p USING (client_id)
LEFT JOIN gas AS g USING (client_id)
LEFT JOIN choice_points AS cp USING (client_id)
LEFT JOIN healing AS h USING (client_id)
