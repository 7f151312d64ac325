-- @params cutoff:TIMESTAMP start:TIMESTAMP
-- @grain month
-- @engines duckdb spark
-- Net revenue, purchases and buying customers per calendar month, up to as_of.
-- Parameters: $cutoff (TIMESTAMP, exclusive), $start (TIMESTAMP, inclusive)
-- Output: month (DATE, first day), revenue, refunds, transactions, customers
SELECT
    CAST(date_trunc('month', transaction_date) AS DATE) AS month,
    sum(amount) AS revenue,
    sum(CASE WHEN amount < 0 THEN -amount ELSE 0 END) AS refunds,
    count(*) AS transactions,
    count(DISTINCT customer_id) AS customers
FROM transactions
WHERE transaction_date < $cutoff AND transaction_date >= $start
GROUP BY 1
ORDER BY 1
