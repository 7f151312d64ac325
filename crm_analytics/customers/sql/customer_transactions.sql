-- @params customer_key:BIGINT customer_id:VARCHAR cutoff:TIMESTAMP limit:BIGINT
-- @grain transaction_id
-- @engines duckdb
-- One customer's latest transactions as of a date, newest first; refunds are marked.
-- Parameters: $customer_key (BIGINT), $customer_id (VARCHAR), $cutoff (TIMESTAMP, exclusive),
--   $limit (BIGINT)
-- Output: transaction_id, transaction_date, amount, is_refund, quantity, product_category, channel
SELECT
    transaction_id, transaction_date, amount, amount < 0 AS is_refund, quantity,
    product_category, channel
FROM transactions
WHERE customer_key = $customer_key AND customer_id = $customer_id AND transaction_date < $cutoff
ORDER BY transaction_date DESC, transaction_id DESC
LIMIT $limit
