-- @params export_id:VARCHAR
-- @grain (no rows)
-- @engines duckdb
-- The history rows of an export that did not become official (the repair).
-- Parameters: $export_id
-- Output: none
DELETE FROM contact_history WHERE export_id = $export_id
