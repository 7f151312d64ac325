-- @params as_of:DATE cutoff:TIMESTAMP window_start:TIMESTAMP
-- @grain customer_id
-- @engines duckdb spark
-- RFM inputs per customer as of a date (see crm_analytics/segmentation/rfm.py).
-- A purchase day is a calendar day with at least one transaction of positive amount;
-- refunds (negative amounts) count in net spend only.
-- Parameters: $as_of (DATE, inclusive), $cutoff (TIMESTAMP, exclusive: as_of + 1 day),
--             $window_start (TIMESTAMP, inclusive: cutoff - window_days)
-- Output: customer_id, last_purchase_date (DATE or NULL), recency_days (INTEGER or NULL),
--         purchase_days_window (BIGINT), net_spend_window (DOUBLE)
-- One row per customer created before the cutoff (or without created_at), also those
-- who never bought (last_purchase_date NULL). Transactions are grouped on the integer
-- customer_key (the store's surrogate of customer_id).
WITH purchases AS (
    SELECT
        customer_key,
        MAX(CASE WHEN amount > 0 THEN CAST(transaction_date AS DATE) END) AS last_purchase_date,
        COUNT(DISTINCT CASE
            WHEN amount > 0 AND transaction_date >= $window_start
            THEN CAST(transaction_date AS DATE) END) AS purchase_days_window,
        SUM(CASE WHEN transaction_date >= $window_start THEN amount ELSE 0 END) AS net_spend_window
    FROM transactions
    WHERE transaction_date < $cutoff
    GROUP BY customer_key
)
SELECT
    c.customer_id,
    p.last_purchase_date,
    CAST($as_of AS DATE) - p.last_purchase_date AS recency_days,
    COALESCE(p.purchase_days_window, 0) AS purchase_days_window,
    COALESCE(p.net_spend_window, 0.0) AS net_spend_window
FROM customers AS c
LEFT JOIN purchases AS p ON p.customer_key = c.customer_key
WHERE c.created_at IS NULL OR c.created_at < $cutoff
ORDER BY c.customer_id
