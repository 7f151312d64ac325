-- @params (none)
-- @grain (one row)
-- @engines duckdb
-- Whether any contact was recorded (the customer view says "not recorded yet" otherwise).
-- Parameters: none
-- Output: n (0 or 1)
SELECT count(*) AS n FROM (SELECT 1 FROM contact_history LIMIT 1)
