-- @params as_of:DATE
-- @grain (one row)
-- @engines duckdb
-- The scoring run whose scores segment a revenue forecast made as of $as_of
-- (clv/revenue_forecast.py): the newest successful run scored on or before that day, so that a
-- forecast (or a back-test at a past cutoff) never groups customers by later scores.
--
-- Parameters:
--   $as_of   DATE  the forecast's as-of date
-- Output, at most one row: run_id, as_of (DATE)
SELECT run_id, as_of
FROM runs
WHERE status = 'succeeded' AND as_of <= $as_of
ORDER BY as_of DESC, finished_at DESC
LIMIT 1
