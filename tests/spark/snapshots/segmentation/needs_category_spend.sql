-- Generated from crm_analytics/segmentation/sql/needs_category_spend.sql by crm_analytics.spark.translate (sqlglot 30.30.0); do not edit.
SELECT
  transactions.customer_id AS customer_id,
  COALESCE(transactions.product_category, 'Unknown') AS product_category,
  SUM(transactions.amount) AS spend
FROM transactions AS transactions
WHERE
  transactions.transaction_date < CAST(:cutoff AS TIMESTAMP_NTZ)
  AND transactions.amount > 0
GROUP BY
  transactions.customer_id,
  COALESCE(transactions.product_category, 'Unknown')
ORDER BY
  customer_id NULLS LAST,
  product_category NULLS LAST
