-- @params customer_id:VARCHAR run_id:VARCHAR large_employees:BIGINT large_revenue:DOUBLE
-- @grain customer_id
-- @engines duckdb
-- One customer's record and size band (the profile part of the single customer view), with
-- that customer's scores in one run (value, churn and segment parts): one lookup, one
-- round trip. The score columns are NULL when the customer has no row in the run (or
-- $run_id is NULL); scored_run_id tells the two cases apart.
-- Parameters: $customer_id (VARCHAR), $run_id (VARCHAR or NULL), $large_employees (BIGINT),
--   $large_revenue (DOUBLE)
-- Output: customer_key, customer_id, name, email, phone, customer_type, size_band, industry,
--   country, region, employees, annual_revenue, created_at, marketing_opt_in, scored_run_id,
--   clv, revenue_potential, revenue_potential_code, p_alive, expected_purchases, growth_rate,
--   churn_probability, risk_band, revenue_at_risk, reason_1, reason_2, reason_3,
--   size_segment, needs_segment, needs_segment_name, rfm_segment, value_tier (0 or 1 row)
WITH c AS (
    SELECT
        customer_key, customer_id, name, email, phone, customer_type,
        -- @include store/sql/size_band.sql
        AS size_band,
        industry, country, region, employees, annual_revenue, created_at, marketing_opt_in
    FROM customers
    WHERE customer_id = $customer_id
)
SELECT
    c.*,
    s.run_id AS scored_run_id,
    s.clv, s.revenue_potential, s.revenue_potential_code, s.p_alive, s.expected_purchases,
    s.growth_rate, s.churn_probability, s.risk_band, s.revenue_at_risk,
    s.reason_1, s.reason_2, s.reason_3,
    s.size_segment, s.needs_segment, s.needs_segment_name, s.rfm_segment, s.value_tier
FROM c
LEFT JOIN (
    SELECT * FROM customer_scores WHERE run_id = $run_id AND customer_id = $customer_id
) AS s ON TRUE
