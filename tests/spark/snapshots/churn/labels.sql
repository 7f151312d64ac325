-- Generated from crm_analytics/churn/sql/labels.sql by crm_analytics.spark.translate (sqlglot 30.30.0); do not edit.
WITH active AS (
  SELECT
    transactions.customer_id AS customer_id
  FROM transactions AS transactions
  WHERE
    transactions.amount >= 0
    AND transactions.transaction_date >= CAST(CAST(:active_from AS DATE) AS TIMESTAMP_NTZ)
    AND transactions.transaction_date < CAST(:cutoff AS TIMESTAMP_NTZ)
  GROUP BY
    transactions.customer_id
), future AS (
  SELECT
    transactions.customer_id AS customer_id,
    COUNT(*) AS purchases_in_horizon
  FROM transactions AS transactions
  WHERE
    transactions.amount >= 0
    AND transactions.transaction_date >= CAST(:cutoff AS TIMESTAMP_NTZ)
    AND transactions.transaction_date < CAST(:horizon_cutoff AS TIMESTAMP_NTZ)
  GROUP BY
    transactions.customer_id
)
SELECT
  a.customer_id AS customer_id,
  CASE WHEN f.customer_id IS NULL THEN 1 ELSE 0 END AS churned,
  COALESCE(f.purchases_in_horizon, 0) AS purchases_in_horizon
FROM active AS a
LEFT JOIN future AS f
  ON f.customer_id = a.customer_id
ORDER BY
  a.customer_id NULLS LAST
