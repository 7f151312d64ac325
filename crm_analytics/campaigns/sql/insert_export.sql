-- @params export_id:VARCHAR campaign:VARCHAR channel:VARCHAR path:VARCHAR sha256:VARCHAR rows:BIGINT controls:BIGINT started_at:TIMESTAMP exported_at:TIMESTAMP manifest:VARCHAR
-- @grain (no rows)
-- @engines duckdb
-- Step 2 of the export commit protocol: the export, pending (crm_analytics.campaigns.history).
-- Parameters: the export's id, campaign, channel, file path, file sha256, rows written,
--             control rows, start and export moments, manifest (JSON)
-- Output: none
INSERT INTO contact_exports (export_id, campaign, channel, path, sha256, rows, controls, status,
                             started_at, exported_at, committed_at, manifest)
VALUES ($export_id, $campaign, $channel, $path, $sha256, $rows, $controls, 'pending',
        $started_at, $exported_at, NULL, $manifest)
