-- @params run_id:VARCHAR created_at:TIMESTAMP segment_id:INTEGER[] name:VARCHAR[] n_customers:BIGINT[] centroid:VARCHAR[]
-- @grain (no rows)
-- @engines duckdb
-- Insert the needs-segment centroids of one run (see segmentation/needs.py: save_profiles).
-- One statement for all segments, so a run's profiles are written completely or not at all.
-- Parameters: $run_id (VARCHAR), $created_at (TIMESTAMP), $segment_id (INTEGER[]),
--             $name (VARCHAR[]), $n_customers (BIGINT[]), $centroid (VARCHAR[]: JSON);
--             the lists have equal length, one element per segment
-- Output: none
INSERT INTO needs_segment_profiles
SELECT
    CAST($run_id AS VARCHAR),
    CAST($created_at AS TIMESTAMP),
    CAST(unnest($segment_id) AS INTEGER),
    CAST(unnest($name) AS VARCHAR),
    CAST(unnest($n_customers) AS BIGINT),
    CAST(unnest($centroid) AS VARCHAR)
