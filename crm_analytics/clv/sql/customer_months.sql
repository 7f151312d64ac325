-- @params start:TIMESTAMP cutoff:TIMESTAMP
-- @grain (fragment)
-- @engines duckdb
-- Fragment, included after `WITH` by clv/sql/monthly_revenue.sql and
-- clv/sql/monthly_segment_revenue.sql: two CTEs, `purchase_days` (one row per customer-day
-- with a sale between $start and $cutoff, all its rows summed: the purchase-occasion policy
-- of clv/sql/rfm_summary.sql) and `customer_months` (customer_key, month, revenue,
-- purchases: the purchase days of the month).
purchase_days AS (
    SELECT customer_key, CAST(transaction_date AS DATE) AS day, SUM(amount) AS amount
    FROM transactions
    WHERE transaction_date >= $start AND transaction_date < $cutoff
    GROUP BY customer_key, CAST(transaction_date AS DATE)
    HAVING MAX(amount) >= 0
),
customer_months AS (
    SELECT customer_key, CAST(date_trunc('month', day) AS DATE) AS month,
           SUM(amount) AS revenue, COUNT(*) AS purchases
    FROM purchase_days
    GROUP BY customer_key, CAST(date_trunc('month', day) AS DATE)
)
