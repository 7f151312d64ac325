-- @params (none)
-- @grain customer_id
-- @engines duckdb spark
-- Contact details and marketing consent of every customer, as stored now (see exports.py).
-- Consent is read at export time, not from the scoring run, so a withdrawal made
-- since the last run is honoured.
-- Parameters: none
-- Output: customer_id, name, email, phone, marketing_opt_in (BOOLEAN or NULL)
SELECT customer_id, name, email, phone, marketing_opt_in
FROM customers
ORDER BY customer_id
