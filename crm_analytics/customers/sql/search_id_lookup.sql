-- @params query:VARCHAR upper_query:VARCHAR upper_end:VARCHAR limit:BIGINT
-- @grain customer_id
-- @engines duckdb
-- customers/sql/search_id.sql (same rows) through the store's contact_lookup table, whose
-- 'id' keys are upper(customer_id), sorted: the ids equal to the query in any case, or
-- starting with it (a query of 3 characters or more), lie in the key range
-- [$upper_query, $upper_end), which zone maps find without reading the other row groups.
--   quality 0: the id itself; 1: the id in another case; 2: an id starting with the query.
-- Parameters: $query (VARCHAR), $upper_query (upper($query), computed by DuckDB's upper in
-- the caller's query), $upper_end ($upper_query followed by U+10FFFF), $limit (BIGINT)
-- Output: customer_id, name, email, phone, customer_type, country, region, quality
WITH hits AS (
    SELECT DISTINCT customer_key
    FROM contact_lookup
    WHERE kind = 'id' AND key >= $upper_query AND key < $upper_end
        AND (key = $upper_query OR length($query) >= 3)
)
SELECT c.customer_id, c.name, c.email, c.phone, c.customer_type, c.country, c.region,
    CASE WHEN c.customer_id = $query THEN 0 WHEN upper(c.customer_id) = $upper_query THEN 1 ELSE 2 END
        AS quality
FROM customers c
WHERE c.customer_key IN (SELECT customer_key FROM hits)
ORDER BY quality, customer_id
LIMIT $limit
