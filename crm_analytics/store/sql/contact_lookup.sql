-- @params (none)
-- @grain kind key customer_key
-- @engines duckdb
-- The store's contact_lookup table (crm_analytics/store/contact_lookup.py): one row per
-- customer and contact value, keyed for the customer search.
--   kind 'email'  key = the e-mail as stored (the loader trims and case-folds it)
--   kind 'phone'  key = the phone's digits (any script's, crm_contact_digits) without
--                 leading zeros, REVERSED, so "the number ends with these digits" is a
--                 prefix of the key and a range scan of the sorted table finds it.
--   kind 'id'     key = upper(customer_id), for the id search (any case, prefixes).
-- `WHERE TRUE` is replaced by the loader with the customers a load touched.
SELECT 'email' AS kind, email AS key, customer_key
FROM customers
WHERE TRUE AND email IS NOT NULL
UNION ALL
SELECT 'phone' AS kind, reverse(ltrim(crm_contact_digits(phone), '0')) AS key, customer_key
FROM customers
WHERE TRUE AND phone IS NOT NULL
UNION ALL
SELECT 'id' AS kind, upper(customer_id) AS key, customer_key
FROM customers
WHERE TRUE
