-- @params as_of:DATE
-- @grain run_id
-- @engines duckdb
-- The run whose scores a customer view shows: the newest successful run whose as_of is on
-- or before the view's date (a run never shows what it could not know yet).
-- Parameters: $as_of (DATE)
-- Output: run_id, as_of, finished_at, config (0 or 1 row)
SELECT run_id, as_of, finished_at, config
FROM runs
WHERE status = 'succeeded' AND as_of <= $as_of
ORDER BY as_of DESC, finished_at DESC
LIMIT 1
