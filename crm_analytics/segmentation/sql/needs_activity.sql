-- @params cutoff:TIMESTAMP
-- @grain customer_id
-- @engines duckdb spark
-- Purchase cadence, service intensity and region per customer with a purchase, as of a date.
-- Parameters: $cutoff (TIMESTAMP, exclusive: as_of + 1 day)
-- Output: customer_id, region ('Unknown' when missing), purchase_days (BIGINT),
--         tenure_days (DOUBLE: first purchase to cutoff), tickets (BIGINT: opened before cutoff)
WITH purchases AS (
    SELECT
        customer_id,
        COUNT(DISTINCT CAST(transaction_date AS DATE)) AS purchase_days,
        MIN(transaction_date) AS first_purchase_at
    FROM transactions
    WHERE transaction_date < $cutoff AND amount > 0
    GROUP BY customer_id
),
service AS (
    SELECT customer_id, COUNT(*) AS tickets
    FROM tickets
    WHERE opened_at < $cutoff
    GROUP BY customer_id
)
SELECT
    p.customer_id,
    COALESCE(c.region, 'Unknown') AS region,
    p.purchase_days,
    EXTRACT(EPOCH FROM (CAST($cutoff AS TIMESTAMP) - p.first_purchase_at)) / 86400.0 AS tenure_days,
    COALESCE(s.tickets, 0) AS tickets
FROM purchases AS p
JOIN customers AS c ON c.customer_id = p.customer_id
LEFT JOIN service AS s ON s.customer_id = p.customer_id
ORDER BY p.customer_id
