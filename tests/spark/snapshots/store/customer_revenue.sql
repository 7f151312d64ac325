-- Generated from crm_analytics/store/sql/customer_revenue.sql by crm_analytics.spark.translate (sqlglot 30.30.0); do not edit.
SELECT
  transactions.customer_id AS customer_id,
  COALESCE(
    SUM(transactions.amount) FILTER(WHERE
      transactions.transaction_date >= CAST(:start AS TIMESTAMP_NTZ)),
    0
  ) AS revenue_365d,
  COUNT(*) FILTER(WHERE
    transactions.transaction_date >= CAST(:start AS TIMESTAMP_NTZ)) AS transactions_365d,
  SUM(transactions.amount) AS revenue_lifetime,
  MAX(transactions.transaction_date) AS last_purchase_at
FROM transactions AS transactions
WHERE
  transactions.transaction_date < CAST(:cutoff AS TIMESTAMP_NTZ)
GROUP BY
  transactions.customer_id
