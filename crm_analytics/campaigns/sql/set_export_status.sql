-- @params export_id:VARCHAR status:VARCHAR now:TIMESTAMP
-- @grain (no rows)
-- @engines duckdb
-- Step 4 of the export commit protocol ('committed'), or the repair's 'rolled_back'.
-- Parameters: $export_id; $status; $now (the commit moment, kept for 'committed' only)
-- Output: none
UPDATE contact_exports
SET status = $status,
    committed_at = CASE WHEN $status = 'committed' THEN $now END
WHERE export_id = $export_id
