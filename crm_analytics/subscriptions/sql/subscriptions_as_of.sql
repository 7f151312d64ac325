-- @params cutoff:TIMESTAMP
-- @grain subscription_id
-- @engines duckdb
-- The subscriptions known as of a date (crm_analytics.subscriptions.subscription_lifetimes).
-- A subscription started on or after the cutoff does not exist yet; an end on or after
-- the cutoff is not known yet (the subscription is active as of the date).
-- Parameters: $cutoff (TIMESTAMP, exclusive: the day after as_of at 00:00)
-- Output: subscription_id, customer_id, plan, billing_period, recurring_amount (DOUBLE),
--   started_at, ended_at (NULL while active as of the date); one row per subscription
SELECT
    subscription_id,
    customer_id,
    plan,
    billing_period,
    CAST(recurring_amount AS DOUBLE) AS recurring_amount,
    started_at,
    CASE WHEN ended_at < $cutoff THEN ended_at END AS ended_at
FROM subscriptions
WHERE started_at < $cutoff
ORDER BY subscription_id
