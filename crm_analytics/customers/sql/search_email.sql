-- @params email:VARCHAR limit:BIGINT
-- @grain customer_id
-- @engines duckdb
-- Customers found by e-mail. Stored e-mails are normalised by the loader (NFKC, lower case);
-- the query arrives normalised the same way (crm_analytics.store.cleansing.normalize_email).
-- Quality 0: the address itself; 1: addresses starting with the query (a partial address).
-- Parameters: $email (VARCHAR, normalised), $limit (BIGINT)
-- Output: customer_id, name, email, phone, customer_type, country, region, quality
SELECT customer_id, name, email, phone, customer_type, country, region,
    CASE WHEN email = $email THEN 0 ELSE 1 END AS quality
FROM customers
WHERE email = $email OR left(email, length($email)) = $email
ORDER BY quality, email, customer_id
LIMIT $limit
