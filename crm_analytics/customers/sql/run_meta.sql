-- @params run_id:VARCHAR
-- @grain run_id
-- @engines duckdb
-- The as_of, finish time and configuration of one run.
-- Parameters: $run_id (VARCHAR)
-- Output: run_id, as_of, finished_at, config (0 or 1 row)
SELECT run_id, as_of, finished_at, config FROM runs WHERE run_id = $run_id
