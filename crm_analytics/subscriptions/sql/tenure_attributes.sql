-- @params names:VARCHAR[]
-- @grain customer_id name
-- @engines duckdb
-- Extra columns of a customers source (customer_attributes) named in $names, e.g. Telco's
-- tenure, churn, contract and monthlycharges, for deriving subscriptions from them
-- (crm_analytics.subscriptions.subscriptions_from_attributes).
-- Parameters: $names (VARCHAR[], normalised attribute names)
-- Output: customer_id, name, value (the text as read); one row per customer and attribute
SELECT customer_id, name, value
FROM customer_attributes
WHERE list_contains($names, name)
ORDER BY customer_id, name
