-- @params (none)
-- @grain campaign
-- @engines duckdb
-- The campaigns of the contact history (crm_analytics.campaigns.results.campaign_overview).
-- Parameters: none
-- Output: campaign, exports, first_export, last_export, treatment, control (customers)
SELECT campaign, count(DISTINCT export_id) AS exports,
       min(exported_at) AS first_export, max(exported_at) AS last_export,
       count(DISTINCT customer_id) FILTER (WHERE NOT is_control) AS treatment,
       count(DISTINCT customer_id) FILTER (WHERE is_control) AS control
FROM contact_history
WHERE campaign IS NOT NULL
GROUP BY campaign
ORDER BY max(exported_at) DESC, campaign
