-- Generated from crm_analytics/segmentation/sql/needs_channel_mix.sql by crm_analytics.spark.translate (sqlglot 30.30.0); do not edit.
SELECT
  transactions.customer_id AS customer_id,
  COALESCE(transactions.channel, 'Unknown') AS channel,
  COUNT(DISTINCT transactions.transaction_date) AS purchases
FROM transactions AS transactions
WHERE
  transactions.transaction_date < CAST(:cutoff AS TIMESTAMP_NTZ)
  AND transactions.amount > 0
GROUP BY
  transactions.customer_id,
  COALESCE(transactions.channel, 'Unknown')
ORDER BY
  customer_id NULLS LAST,
  channel NULLS LAST
