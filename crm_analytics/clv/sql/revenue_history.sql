-- @params as_of:DATE cutoff:TIMESTAMP last_start:TIMESTAMP prior_start:TIMESTAMP
-- @grain customer_id
-- @engines duckdb spark
-- Past revenue per customer for the revenue potential: net amounts (refunds included)
-- in the last 365 days and in the 365 days before, plus the customer's tenure.
--
-- Parameters:
--   $as_of        DATE       last day observed (inclusive)
--   $cutoff       TIMESTAMP  $as_of + 1 day at 00:00: exclusive end of the last window
--   $last_start   TIMESTAMP  $cutoff - 365 days: start of the last window (inclusive)
--   $prior_start  TIMESTAMP  $cutoff - 730 days: start of the prior window (inclusive)
-- Output, one row per customer with a sale (a row with amount >= 0) before $cutoff,
-- the same customers as clv/sql/rfm_summary.sql:
--   customer_id, first_purchase_day (DATE), tenure_days (first purchase day to $as_of,
--   both counted), revenue_last_12m, revenue_prior_12m
-- Grouped on the integer customer_key; customer_id is joined back once per customer.
WITH firsts AS (
    SELECT customer_key, MIN(CAST(transaction_date AS DATE)) AS first_purchase_day
    FROM transactions
    WHERE transaction_date < $cutoff AND amount >= 0
    GROUP BY customer_key
),
revenue AS (
    SELECT
        customer_key,
        SUM(CASE WHEN transaction_date >= $last_start THEN amount ELSE 0 END) AS revenue_last_12m,
        SUM(CASE WHEN transaction_date < $last_start THEN amount ELSE 0 END) AS revenue_prior_12m
    FROM transactions
    WHERE transaction_date >= $prior_start AND transaction_date < $cutoff
    GROUP BY customer_key
)
SELECT
    c.customer_id,
    f.first_purchase_day,
    $as_of - f.first_purchase_day + 1 AS tenure_days,
    COALESCE(r.revenue_last_12m, 0.0) AS revenue_last_12m,
    COALESCE(r.revenue_prior_12m, 0.0) AS revenue_prior_12m
FROM firsts AS f
JOIN customers AS c ON c.customer_key = f.customer_key
LEFT JOIN revenue AS r ON r.customer_key = f.customer_key
ORDER BY c.customer_id
