-- @params cutoff:TIMESTAMP large_employees:INTEGER large_revenue:DOUBLE
-- @grain customer_id
-- @engines duckdb spark
-- Customer attributes with the size band (see crm_analytics/features.py).
-- Parameters: $cutoff (TIMESTAMP or NULL: customers created before it; NULL = all),
--             $large_employees (INTEGER), $large_revenue (DOUBLE)
-- Output: customer_id, name, email, phone, customer_type, size_band, industry, country,
--         region, employees, annual_revenue, created_at, marketing_opt_in
SELECT
    customer_id, name, email, phone, customer_type,
    -- @include store/sql/size_band.sql
    AS size_band,
    industry, country, region, employees, annual_revenue, created_at, marketing_opt_in
FROM customers
WHERE $cutoff IS NULL OR created_at IS NULL OR created_at < $cutoff
ORDER BY customer_id
