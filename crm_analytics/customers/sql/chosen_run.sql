-- @params run_id:VARCHAR as_of:DATE
-- @grain run_id
-- @engines duckdb
-- One successful run for a customer view, by id, if its as_of is on or before the view's
-- date, and whether its scores are still stored (keep_runs prunes the scores of old runs).
-- Parameters: $run_id (VARCHAR), $as_of (DATE)
-- Output: run_id, as_of, finished_at, config, has_scores (0 or 1 row)
SELECT run_id, as_of, finished_at, config,
    EXISTS (SELECT 1 FROM customer_scores WHERE run_id = $run_id) AS has_scores
FROM runs
WHERE run_id = $run_id AND status = 'succeeded' AND as_of <= $as_of
