-- @params query:VARCHAR limit:BIGINT
-- @grain customer_id
-- @engines duckdb
-- Customers found by customer_id: the id itself (quality 0), the id in another case
-- (quality 1), or ids starting with the query (quality 2, queries of 3 characters or more).
-- Parameters: $query (VARCHAR, trimmed), $limit (BIGINT)
-- Output: customer_id, name, email, phone, customer_type, country, region, quality
SELECT customer_id, name, email, phone, customer_type, country, region,
    CASE WHEN customer_id = $query THEN 0 WHEN upper(customer_id) = upper($query) THEN 1 ELSE 2 END
        AS quality
FROM customers
WHERE customer_id = $query OR upper(customer_id) = upper($query)
    OR (length($query) >= 3 AND left(upper(customer_id), length($query)) = upper($query))
ORDER BY quality, customer_id
LIMIT $limit
