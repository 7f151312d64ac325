-- Generated from crm_analytics/churn/sql/active_count.sql by crm_analytics.spark.translate (sqlglot 30.30.0); do not edit.
SELECT
  COUNT(DISTINCT transactions.customer_id) AS n_active
FROM transactions AS transactions
WHERE
  transactions.amount >= 0
  AND transactions.transaction_date >= CAST(CAST(:active_from AS DATE) AS TIMESTAMP_NTZ)
  AND transactions.transaction_date < CAST(:cutoff AS TIMESTAMP_NTZ)
