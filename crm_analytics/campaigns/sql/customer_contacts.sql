-- @params customer_id:VARCHAR as_of_end:TIMESTAMP
-- @grain export_id
-- @engines duckdb
-- One customer's contact history up to $as_of_end, newest first (crm_analytics.customers).
-- Parameters: $customer_id; $as_of_end (exclusive)
-- Output: sent_at, channel, campaign, segment, status ('sent' or 'control (not sent)'), export_id
SELECT exported_at AS sent_at, channel, campaign, segment,
       CASE WHEN is_control THEN 'control (not sent)' ELSE 'sent' END AS status, export_id
FROM contact_history
WHERE customer_id = $customer_id AND exported_at < $as_of_end
ORDER BY exported_at DESC, export_id
