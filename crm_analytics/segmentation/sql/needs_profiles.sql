-- @params run_id:VARCHAR
-- @grain segment_id
-- @engines duckdb
-- Saved needs-segment centroids of one run (see segmentation/needs.py: save_profiles).
-- Parameters: $run_id (VARCHAR or NULL: the run saved last, by created_at then run_id)
-- Output: run_id, created_at, segment_id, name, n_customers, centroid (JSON text)
WITH chosen AS (
    SELECT run_id
    FROM needs_segment_profiles
    WHERE $run_id IS NULL OR run_id = $run_id
    GROUP BY run_id
    ORDER BY MAX(created_at) DESC, run_id DESC
    LIMIT 1
)
SELECT p.run_id, p.created_at, p.segment_id, p.name, p.n_customers, p.centroid
FROM needs_segment_profiles AS p
JOIN chosen AS c ON c.run_id = p.run_id
ORDER BY p.segment_id
