-- @params (none)
-- @grain name
-- @engines duckdb
-- All custom segment definitions (see segmentation/rules.py).
-- Parameters: none
-- Output: name, rule, description, created_at, updated_at
SELECT name, rule, description, created_at, updated_at
FROM segment_definitions
ORDER BY lower(name)
