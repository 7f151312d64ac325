-- @params cutoff:TIMESTAMP max_levels:INTEGER
-- @grain name value
-- @engines duckdb spark
-- Customer attributes as churn features: per attribute, whether every value is a number,
-- and its most frequent values (see attribute_schema in crm_analytics/churn/features.py).
-- Parameters: $cutoff (TIMESTAMP or NULL: customers created before it; NULL = all),
--             $max_levels (INTEGER: values listed per attribute that is not numeric)
-- Output: name, customers (customers with a value), is_numeric (1/0), n_values (distinct
--         values), value and value_customers (the max_levels most frequent values of a
--         non-numeric attribute, one row each, most frequent first, ties by value; one row
--         with NULL value for a numeric attribute)
WITH counts AS (
    SELECT name, value, COUNT(*) AS n,
           CASE WHEN TRY_CAST(value AS DOUBLE) IS NULL THEN 0 ELSE 1 END AS is_number
    FROM customer_attributes
    WHERE $cutoff IS NULL OR customer_id IN (
        SELECT customer_id FROM customers WHERE created_at IS NULL OR created_at < $cutoff)
    GROUP BY name, value
),
per_name AS (
    SELECT name, SUM(n) AS customers, MIN(is_number) AS is_numeric, COUNT(*) AS n_values
    FROM counts
    GROUP BY name
),
ranked AS (
    SELECT name, value, n,
           ROW_NUMBER() OVER (PARTITION BY name ORDER BY n DESC, value) AS level_rank
    FROM counts
)
SELECT p.name, p.customers, p.is_numeric, p.n_values, r.value, r.n AS value_customers
FROM per_name p
LEFT JOIN ranked r
    ON r.name = p.name AND p.is_numeric = 0 AND r.level_rank <= $max_levels
ORDER BY p.name, r.level_rank
