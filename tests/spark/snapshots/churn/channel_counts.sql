-- Generated from crm_analytics/churn/sql/channel_counts.sql by crm_analytics.spark.translate (sqlglot 30.30.0); do not edit.
SELECT
  transactions.channel AS channel,
  COUNT(*) AS n_lines
FROM transactions AS transactions
WHERE
  transactions.transaction_date < CAST(:cutoff AS TIMESTAMP_NTZ)
  AND transactions.amount >= 0
  AND NOT transactions.channel IS NULL
GROUP BY
  transactions.channel
ORDER BY
  n_lines DESC NULLS LAST,
  channel NULLS LAST
