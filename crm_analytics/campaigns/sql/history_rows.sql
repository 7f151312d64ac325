-- @params campaign:VARCHAR customer_id:VARCHAR
-- @grain export_id customer_id
-- @engines duckdb
-- The contact history, oldest first, optionally of one campaign and/or one customer.
-- Parameters: $campaign, $customer_id (NULL: all)
-- Output: the columns of contact_history
SELECT export_id, campaign, channel, customer_id, contact_hash, segment, is_control, exported_at
FROM contact_history
WHERE ($campaign IS NULL OR campaign = $campaign)
  AND ($customer_id IS NULL OR customer_id = $customer_id)
ORDER BY exported_at, export_id, customer_id
