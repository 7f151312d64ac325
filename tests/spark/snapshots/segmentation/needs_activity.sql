-- Generated from crm_analytics/segmentation/sql/needs_activity.sql by crm_analytics.spark.translate (sqlglot 30.30.0); do not edit.
WITH purchases AS (
  SELECT
    transactions.customer_id AS customer_id,
    COUNT(DISTINCT CAST(transactions.transaction_date AS DATE)) AS purchase_days,
    MIN(transactions.transaction_date) AS first_purchase_at
  FROM transactions AS transactions
  WHERE
    transactions.transaction_date < CAST(:cutoff AS TIMESTAMP_NTZ)
    AND transactions.amount > 0
  GROUP BY
    transactions.customer_id
), service AS (
  SELECT
    tickets.customer_id AS customer_id,
    COUNT(*) AS tickets
  FROM tickets AS tickets
  WHERE
    tickets.opened_at < CAST(:cutoff AS TIMESTAMP_NTZ)
  GROUP BY
    tickets.customer_id
)
SELECT
  p.customer_id AS customer_id,
  COALESCE(c.region, 'Unknown') AS region,
  p.purchase_days AS purchase_days,
  (
    CAST(TIMESTAMPDIFF(
      MICROSECOND,
      p.first_purchase_at,
      CAST(CAST(:cutoff AS TIMESTAMP_NTZ) AS TIMESTAMP_NTZ)
    ) AS DOUBLE) / 1000000
  ) / CAST(86400.0 AS DOUBLE) AS tenure_days,
  COALESCE(s.tickets, 0) AS tickets
FROM purchases AS p
JOIN customers AS c
  ON c.customer_id = p.customer_id
LEFT JOIN service AS s
  ON s.customer_id = p.customer_id
ORDER BY
  p.customer_id NULLS LAST
