-- Generated from crm_analytics/segmentation/sql/rfm.sql by crm_analytics.spark.translate (sqlglot 30.30.0); do not edit.
WITH purchases AS (
  SELECT
    transactions.customer_key AS customer_key,
    MAX(
      CASE
        WHEN transactions.amount > 0
        THEN CAST(transactions.transaction_date AS DATE)
      END
    ) AS last_purchase_date,
    COUNT(
      DISTINCT CASE
        WHEN transactions.amount > 0
        AND transactions.transaction_date >= CAST(:window_start AS TIMESTAMP_NTZ)
        THEN CAST(transactions.transaction_date AS DATE)
      END
    ) AS purchase_days_window,
    SUM(
      CASE
        WHEN transactions.transaction_date >= CAST(:window_start AS TIMESTAMP_NTZ)
        THEN transactions.amount
        ELSE 0
      END
    ) AS net_spend_window
  FROM transactions AS transactions
  WHERE
    transactions.transaction_date < CAST(:cutoff AS TIMESTAMP_NTZ)
  GROUP BY
    transactions.customer_key
)
SELECT
  c.customer_id AS customer_id,
  p.last_purchase_date AS last_purchase_date,
  DATEDIFF(CAST(CAST(:as_of AS DATE) AS DATE), p.last_purchase_date) AS recency_days,
  COALESCE(p.purchase_days_window, 0) AS purchase_days_window,
  COALESCE(p.net_spend_window, 0.0) AS net_spend_window
FROM customers AS c
LEFT JOIN purchases AS p
  ON p.customer_key = c.customer_key
WHERE
  c.created_at IS NULL OR c.created_at < CAST(:cutoff AS TIMESTAMP_NTZ)
ORDER BY
  c.customer_id NULLS LAST
