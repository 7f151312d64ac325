-- Customer attributes with the size band (see crm_analytics/features.py).
-- Parameters: $cutoff (TIMESTAMP or NULL: customers created before it; NULL = all),
--             $large_employees (INTEGER), $large_revenue (DOUBLE)
-- Output: customer_id, name, email, phone, customer_type, size_band, industry, country,
--         region, employees, annual_revenue, created_at, marketing_opt_in
SELECT
    customer_id, name, email, phone, customer_type,
    CASE
        WHEN customer_type = 'consumer' THEN 'consumer'
        WHEN employees IS NULL AND annual_revenue IS NULL THEN 'unknown'
        WHEN employees >= $large_employees OR annual_revenue >= $large_revenue THEN 'large'
        ELSE 'small_medium'
    END AS size_band,
    industry, country, region, employees, annual_revenue, created_at, marketing_opt_in
FROM customers
WHERE $cutoff IS NULL OR created_at IS NULL OR created_at < $cutoff
ORDER BY customer_id
