-- Paired episodes of one scale in the chosen breakdown and outcome population (finished treatment: discharged in
-- the period): the client-level Jacobson plot.
SELECT c.client_id, c.baseline_score, c.latest_score, c.change, c.category, c.rc_threshold, c.cutoff,
       c.higher_is_better
FROM clinical.client_change c JOIN clinical.episode_engagement e USING (client_id)
WHERE c.paired AND c.instrument = $instrument AND c.scale = $scale AND in_breakdown(e, $dimension, $level)
    AND e.outcome_population = $population
    AND ($population <> 'finished_treatment' OR $period = 'all'
         OR strftime(e.discharge_date, '%Y-%m') = $period
         OR format('{}-Q{}', year(e.discharge_date), quarter(e.discharge_date)) = $period)
ORDER BY c.client_id
