-- @params active_from:DATE cutoff:TIMESTAMP horizon_cutoff:TIMESTAMP
-- @grain customer_id
-- @engines duckdb spark
-- Churn labels: customers active at as_of and whether they buy again within the horizon.
-- A purchase is a transaction with amount >= 0 (negative amounts are refunds/returns).
-- Parameters: $active_from (DATE, first day of the activity lookback, as_of - active_days + 1),
--             $cutoff (TIMESTAMP, exclusive end of as_of: as_of + 1 day at 00:00),
--             $horizon_cutoff (TIMESTAMP, exclusive end of the label window: cutoff + horizon_days)
-- Output: customer_id, churned (0/1: no purchase in [cutoff, horizon_cutoff)),
--         purchases_in_horizon (purchase lines in the window)
WITH active AS (
    SELECT customer_id
    FROM transactions
    WHERE amount >= 0
      AND transaction_date >= CAST($active_from AS TIMESTAMP)
      AND transaction_date < $cutoff
    GROUP BY customer_id
),
future AS (
    SELECT customer_id, COUNT(*) AS purchases_in_horizon
    FROM transactions
    WHERE amount >= 0
      AND transaction_date >= $cutoff
      AND transaction_date < $horizon_cutoff
    GROUP BY customer_id
)
SELECT
    a.customer_id,
    CASE WHEN f.customer_id IS NULL THEN 1 ELSE 0 END AS churned,
    COALESCE(f.purchases_in_horizon, 0) AS purchases_in_horizon
FROM active AS a
LEFT JOIN future AS f ON f.customer_id = a.customer_id
ORDER BY a.customer_id
