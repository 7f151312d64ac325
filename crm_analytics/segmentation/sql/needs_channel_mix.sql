-- @params cutoff:TIMESTAMP
-- @grain customer_id channel
-- @engines duckdb spark
-- Purchases (distinct purchase timestamps) per customer and sales channel, as of a date.
-- A basket written as several lines with one timestamp counts once.
-- Parameters: $cutoff (TIMESTAMP, exclusive: as_of + 1 day)
-- Output: customer_id, channel ('Unknown' when missing), purchases (BIGINT)
SELECT
    customer_id,
    COALESCE(channel, 'Unknown') AS channel,
    COUNT(DISTINCT transaction_date) AS purchases
FROM transactions
WHERE transaction_date < $cutoff AND amount > 0
GROUP BY customer_id, COALESCE(channel, 'Unknown')
ORDER BY customer_id, channel
