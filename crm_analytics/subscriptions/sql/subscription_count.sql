-- @params cutoff:TIMESTAMP
-- @grain (one row)
-- @engines duckdb
-- How many subscriptions started before the cutoff (the nightly step runs only when some did).
-- Parameters: $cutoff (TIMESTAMP, exclusive: the day after as_of at 00:00)
-- Output: n_subscriptions
SELECT count(*) AS n_subscriptions FROM subscriptions WHERE started_at < $cutoff
