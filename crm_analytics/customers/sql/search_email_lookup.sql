-- @params email:VARCHAR email_end:VARCHAR limit:BIGINT
-- @grain customer_id
-- @engines duckdb
-- customers/sql/search_email.sql (same rows) through the store's contact_lookup table
-- (crm_analytics/store/contact_lookup.py), sorted by key: the addresses starting with
-- the query lie in the key range [$email, $email_end), which zone maps find without
-- reading the other row groups; the customers are then read by customer_key.
-- Quality 0: the address itself; 1: addresses starting with the query.
-- Parameters: $email (VARCHAR, normalised), $email_end ($email followed by U+10FFFF, the
-- largest character), $limit (BIGINT)
-- Output: customer_id, name, email, phone, customer_type, country, region, quality
WITH hits AS (
    SELECT DISTINCT customer_key
    FROM contact_lookup
    WHERE kind = 'email' AND key >= $email AND key < $email_end
)
SELECT c.customer_id, c.name, c.email, c.phone, c.customer_type, c.country, c.region,
    CASE WHEN c.email = $email THEN 0 ELSE 1 END AS quality
FROM customers c
WHERE c.customer_key IN (SELECT customer_key FROM hits)
ORDER BY quality, email, customer_id
LIMIT $limit
