-- @params name:VARCHAR
-- @grain (one row)
-- @engines duckdb
-- Whether the store has table $name (an old store opened read-only may lack new ones).
-- Parameters: $name
-- Output: n (0 or 1)
SELECT count(*) AS n
FROM duckdb_tables()
WHERE table_name = $name AND schema_name = 'main' AND NOT temporary
