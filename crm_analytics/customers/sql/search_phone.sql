-- @params last2:VARCHAR key:VARCHAR limit:BIGINT
-- @grain customer_id
-- @engines duckdb
-- Candidates for a phone search: phones whose digits match the query's digits.
-- Phones are compared by their digits with leading zeros dropped ("phone key"), so an
-- international prefix written 00 or +, and a national trunk 0, do not matter:
--   quality 0: the same key; 1: one key ends with the other, both of 7 digits or more
--   (a national number against its international form).
-- Every rule compares the ends of the keys, so a phone whose last two characters are
-- digits must end with the query's last two digits: that cheap test runs first and the
-- digits are extracted only for the few phones that pass it (MATERIALIZED keeps the
-- optimiser from running the regular expression on every row first). Phones holding
-- characters outside printable ASCII (other scripts' digits) are returned as candidates
-- (non_ascii) and compared in Python with the loader's normaliser.
-- Parameters: $last2 (VARCHAR: the query's last two digits), $key (VARCHAR: the query's
--   phone key), $limit (BIGINT)
-- Output: customer_id, name, email, phone, customer_type, country, region, phone_key,
--   non_ascii, quality
WITH candidates AS MATERIALIZED (
    SELECT customer_id, name, email, phone, customer_type, country, region
    FROM customers
    WHERE phone IS NOT NULL
        AND (right(phone, 2) = $last2
             OR NOT (right(phone, 1) BETWEEN '0' AND '9' AND substr(phone, -2, 1) BETWEEN '0' AND '9'))
),
keyed AS (
    SELECT *, ltrim(regexp_replace(phone, '[^0-9]', '', 'g'), '0') AS phone_key,
        regexp_matches(phone, '[^ -~]') AS non_ascii
    FROM candidates
)
SELECT customer_id, name, email, phone, customer_type, country, region, phone_key, non_ascii,
    CASE WHEN phone_key = $key THEN 0 ELSE 1 END AS quality
FROM keyed
WHERE non_ascii OR phone_key = $key
    OR (length($key) >= 7 AND length(phone_key) >= 7
        AND (right(phone_key, length($key)) = $key OR right($key, length(phone_key)) = phone_key))
ORDER BY quality, customer_id
LIMIT $limit
