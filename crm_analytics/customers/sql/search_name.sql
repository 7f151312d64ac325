-- @params folded:VARCHAR t1:VARCHAR t2:VARCHAR t3:VARCHAR t4:VARCHAR limit:BIGINT
-- @grain customer_id
-- @engines duckdb
-- Customers found by name, case- and accent-insensitive, partial, ranked.
-- Names and the query are folded the same way (lower(strip_accents(...)): DuckDB's
-- strip_accents has no standard SQL equivalent; another engine needs its own). Every word
-- of the query must occur in the name (in any order). Quality 0: the whole name; 1: the
-- name starts with the query; 2: every word of the query starts a word of the name;
-- 3: the words occur inside words. Within a quality, shorter names first.
-- Parameters: $folded (VARCHAR: the folded query), $t1 .. $t4 (VARCHAR: its first four
--   words; '' for missing ones), $limit (BIGINT)
-- Output: customer_id, name, email, phone, customer_type, country, region, quality
WITH folded AS (
    SELECT customer_id, name, email, phone, customer_type, country, region,
        ' ' || lower(strip_accents(name)) AS spaced
    FROM customers
    WHERE name IS NOT NULL
),
hits AS (
    SELECT *, substr(spaced, 2) AS n
    FROM folded
    WHERE position($t1 IN spaced) > 0 AND position($t2 IN spaced) > 0
        AND position($t3 IN spaced) > 0 AND position($t4 IN spaced) > 0
)
SELECT customer_id, name, email, phone, customer_type, country, region,
    CASE
        WHEN n = $folded THEN 0
        WHEN left(n, length($folded)) = $folded THEN 1
        WHEN position(' ' || $t1 IN spaced) > 0 AND position(' ' || $t2 IN spaced) > 0
            AND position(' ' || $t3 IN spaced) > 0 AND position(' ' || $t4 IN spaced) > 0 THEN 2
        ELSE 3
    END AS quality
FROM hits
ORDER BY quality, length(n), n, customer_id
LIMIT $limit
