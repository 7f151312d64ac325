-- @params rkey:VARCHAR lo:VARCHAR hi:VARCHAR limit:BIGINT
-- @grain customer_id
-- @engines duckdb
-- customers/sql/search_phone.sql (same rows, already exact) through the store's
-- contact_lookup table, whose phone keys are the digits without leading zeros REVERSED
-- (crm_analytics/store/contact_lookup.py): "one number ends with the other" becomes "one
-- key starts with the other", and every match shares the query's first 7 reversed digits
-- (or all of them, for a query of fewer than 7), so the sorted table is read in the key
-- range [$lo, $hi) only.
--   quality 0: the same key; 1: one key ends with the other, both of 7 digits or more.
-- Parameters: $rkey (the query's key reversed), $lo / $hi (the range: $rkey's first 7
-- characters, or all of them, and the same followed by ':', the character after '9'),
-- $limit (BIGINT)
-- Output: customer_id, name, email, phone, customer_type, country, region, quality
WITH hits AS (
    SELECT customer_key, min(CASE WHEN key = $rkey THEN 0 ELSE 1 END) AS quality
    FROM contact_lookup
    WHERE kind = 'phone' AND key >= $lo AND key < $hi
        AND (key = $rkey
             OR (length($rkey) >= 7 AND length(key) >= 7
                 AND (starts_with(key, $rkey) OR starts_with($rkey, key))))
    GROUP BY customer_key
)
SELECT c.customer_id, c.name, c.email, c.phone, c.customer_type, c.country, c.region, h.quality
FROM hits h
JOIN customers c ON c.customer_key = h.customer_key
ORDER BY quality, customer_id
LIMIT $limit
