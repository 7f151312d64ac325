-- @params (none)
-- @grain export_id
-- @engines duckdb
-- Exports a crash left between steps 2 and 4 of the commit protocol.
-- Parameters: none
-- Output: export_id, path, sha256
SELECT export_id, path, sha256
FROM contact_exports
WHERE status = 'pending'
ORDER BY started_at, export_id
