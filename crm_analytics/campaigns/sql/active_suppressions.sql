-- @params at:TIMESTAMP
-- @grain suppression_id
-- @engines duckdb
-- Suppressions in force at $at: from valid_from (missing: always) to the end of the
-- day of valid_until (missing: for ever) (crm_analytics.campaigns.suppression).
-- Parameters: $at - the moment of the export (timestamp, UTC)
-- Output: suppression_id, customer_id, email, phone, suppression_reason
SELECT suppression_id, customer_id, email, phone, suppression_reason
FROM suppressions
WHERE (valid_from IS NULL OR valid_from <= $at)
  AND (valid_until IS NULL OR CAST(valid_until AS DATE) >= CAST($at AS DATE))
ORDER BY suppression_id
