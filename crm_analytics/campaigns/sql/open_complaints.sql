-- @params at:TIMESTAMP
-- @grain customer_id
-- @engines duckdb
-- Customers with a complaint ticket open at $at: opened on or before it and not
-- resolved by then (crm_analytics.campaigns.suppression).
-- Parameters: $at - the moment of the export (timestamp, UTC)
-- Output: customer_id
SELECT DISTINCT customer_id
FROM tickets
WHERE is_complaint AND opened_at <= $at AND (resolved_at IS NULL OR resolved_at > $at)
ORDER BY customer_id
