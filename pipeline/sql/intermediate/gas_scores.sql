-- Purpose: Goal Attainment Scaling T-scores (DESIGN 5.8): how far coaching goals were attained on each rating
--          date; 50 = attained as expected.
-- Grain: one row per client_id × rated_on.
-- Inputs: warehouse table goals; parameter $gas_rho (settings coaching.gas_rho, 0.3).
-- Reference: Kiresuk & Sherman (1968): T = 50 + 10·Σwᵢxᵢ / √((1 − ρ)Σwᵢ² + ρ(Σwᵢ)²) over the goals rated that
--            day.
-- Missing data: weight defaults to 1 at validation; a date without a rating has no row.
SELECT
    client_id, rated_on, count(*) AS goals_rated,
    50 + 10 * sum(weight * attainment)
        / sqrt((1 - $gas_rho::DOUBLE) * sum(weight * weight) + $gas_rho::DOUBLE * sum(weight) ^ 2) AS gas_t
FROM goals
GROUP BY client_id, rated_on
