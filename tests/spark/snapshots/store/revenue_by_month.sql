-- Generated from crm_analytics/store/sql/revenue_by_month.sql by crm_analytics.spark.translate (sqlglot 30.30.0); do not edit.
SELECT
  CAST(DATE_TRUNC('MONTH', transactions.transaction_date) AS DATE) AS month,
  SUM(transactions.amount) AS revenue,
  SUM(CASE WHEN transactions.amount < 0 THEN -transactions.amount ELSE 0 END) AS refunds,
  COUNT(*) AS transactions,
  COUNT(DISTINCT transactions.customer_id) AS customers
FROM transactions AS transactions
WHERE
  transactions.transaction_date < CAST(:cutoff AS TIMESTAMP_NTZ)
  AND transactions.transaction_date >= CAST(:start AS TIMESTAMP_NTZ)
GROUP BY
  CAST(DATE_TRUNC('MONTH', transactions.transaction_date) AS DATE)
ORDER BY
  month NULLS LAST
