-- @params cutoff:TIMESTAMP start:TIMESTAMP
-- @grain customer_id
-- @engines duckdb spark
-- Revenue per customer: last 365 days up to as_of, and lifetime to as_of.
-- Parameters: $cutoff (TIMESTAMP, exclusive), $start (TIMESTAMP, inclusive: cutoff - 365 days)
-- Output: customer_id, revenue_365d, transactions_365d, revenue_lifetime, last_purchase_at
SELECT
    customer_id,
    coalesce(sum(amount) FILTER (WHERE transaction_date >= $start), 0) AS revenue_365d,
    count(*) FILTER (WHERE transaction_date >= $start) AS transactions_365d,
    sum(amount) AS revenue_lifetime,
    max(transaction_date) AS last_purchase_at
FROM transactions
WHERE transaction_date < $cutoff
GROUP BY customer_id
