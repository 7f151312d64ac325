-- @params since:TIMESTAMP at:TIMESTAMP
-- @grain export_id customer_id
-- @engines duckdb
-- Contacts recorded in the contact history in the window (since, at], for the
-- contact policy (crm_analytics.campaigns.history.recent_contacts).
-- Parameters: $since, $at - the window (timestamps, UTC)
-- Output: export_id, customer_id, channel, campaign, is_control,
--         age_seconds (seconds between the contact and $at)
SELECT export_id, customer_id, channel, campaign, is_control,
       CAST(epoch($at) - epoch(exported_at) AS DOUBLE) AS age_seconds
FROM contact_history
WHERE exported_at > $since AND exported_at <= $at
