-- @params cutoff:TIMESTAMP
-- @grain customer_id product_category
-- @engines duckdb spark
-- Gross spend per customer and product category, as of a date (needs features).
-- Refunds are left out: a share of spend describes what the customer buys.
-- Parameters: $cutoff (TIMESTAMP, exclusive: as_of + 1 day)
-- Output: customer_id, product_category ('Unknown' when missing), spend (DOUBLE > 0)
SELECT
    customer_id,
    COALESCE(product_category, 'Unknown') AS product_category,
    SUM(amount) AS spend
FROM transactions
WHERE transaction_date < $cutoff AND amount > 0
GROUP BY customer_id, COALESCE(product_category, 'Unknown')
ORDER BY customer_id, product_category
