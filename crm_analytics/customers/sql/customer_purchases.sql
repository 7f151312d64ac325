-- @params customer_key:BIGINT customer_id:VARCHAR cutoff:TIMESTAMP start:TIMESTAMP
-- @grain year
-- @engines duckdb
-- One customer's purchases per calendar year as of a date, with the part of each year that
-- falls in the last 365 days: the value part of the single customer view (its totals are
-- the sums over the years). Revenue is net: refunds (negative amounts) are subtracted, as in
-- customer_scores. The filter on customer_key reads only that customer's row groups (the
-- loader stores rows ordered by customer_key); customer_id is checked as well.
-- Parameters: $customer_key (BIGINT), $customer_id (VARCHAR), $cutoff (TIMESTAMP, exclusive),
--   $start (TIMESTAMP, inclusive: cutoff - 365 days)
-- Output: year, revenue, transactions, refunds, refund_amount, revenue_365d, transactions_365d,
--   first_purchase_at, last_purchase_at; one row per year with transactions, oldest first
SELECT
    CAST(EXTRACT(YEAR FROM transaction_date) AS INTEGER) AS year,
    sum(amount) AS revenue,
    count(*) AS transactions,
    count(CASE WHEN amount < 0 THEN 1 END) AS refunds,
    coalesce(-sum(CASE WHEN amount < 0 THEN amount END), 0) AS refund_amount,
    coalesce(sum(CASE WHEN transaction_date >= $start THEN amount END), 0) AS revenue_365d,
    count(CASE WHEN transaction_date >= $start THEN 1 END) AS transactions_365d,
    min(transaction_date) AS first_purchase_at,
    max(transaction_date) AS last_purchase_at
FROM transactions
WHERE customer_key = $customer_key AND customer_id = $customer_id AND transaction_date < $cutoff
GROUP BY 1
ORDER BY 1
