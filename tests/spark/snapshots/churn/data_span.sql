-- Generated from crm_analytics/churn/sql/data_span.sql by crm_analytics.spark.translate (sqlglot 30.30.0); do not edit.
SELECT
  MIN(transactions.transaction_date) AS first_transaction,
  MAX(transactions.transaction_date) AS last_transaction,
  COUNT(*) AS n_transactions
FROM transactions AS transactions
