-- @params active_from:DATE cutoff:TIMESTAMP
-- @grain (one row)
-- @engines duckdb spark
-- Number of customers active at as_of: a purchase (amount >= 0) in the activity lookback.
-- Parameters: $active_from (DATE, as_of - active_days + 1),
--             $cutoff (TIMESTAMP, exclusive end of as_of: as_of + 1 day at 00:00)
-- Output: n_active
SELECT COUNT(DISTINCT customer_id) AS n_active
FROM transactions
WHERE amount >= 0
  AND transaction_date >= CAST($active_from AS TIMESTAMP)
  AND transaction_date < $cutoff
