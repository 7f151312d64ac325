-- @params name:VARCHAR
-- @grain name
-- @engines duckdb
-- One custom segment definition by name, ignoring case (see segmentation/rules.py).
-- Parameters: $name (VARCHAR)
-- Output: name, rule, description, created_at, updated_at
SELECT name, rule, description, created_at, updated_at
FROM segment_definitions
WHERE lower(name) = lower($name)
ORDER BY updated_at DESC
LIMIT 1
