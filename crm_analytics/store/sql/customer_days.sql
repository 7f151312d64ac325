-- @params (none)
-- @grain customer_key day
-- @engines duckdb
-- The transactions per customer and day (the store's customer_days table, see
-- crm_analytics/store/customer_days.py): the sum of the day's amounts and whether any
-- of them is a sale (amount >= 0). `WHERE TRUE` is replaced by the loader with the
-- customers a load touched.
SELECT
    customer_key,
    CAST(transaction_date AS DATE) AS day,
    SUM(amount) AS amount,
    MAX(amount) >= 0 AS has_sale
FROM transactions
WHERE TRUE
GROUP BY customer_key, CAST(transaction_date AS DATE)
