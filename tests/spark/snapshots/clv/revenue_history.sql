-- Generated from crm_analytics/clv/sql/revenue_history.sql by crm_analytics.spark.translate (sqlglot 30.30.0); do not edit.
WITH firsts AS (
  SELECT
    transactions.customer_key AS customer_key,
    MIN(CAST(transactions.transaction_date AS DATE)) AS first_purchase_day
  FROM transactions AS transactions
  WHERE
    transactions.transaction_date < CAST(:cutoff AS TIMESTAMP_NTZ)
    AND transactions.amount >= 0
  GROUP BY
    transactions.customer_key
), revenue AS (
  SELECT
    transactions.customer_key AS customer_key,
    SUM(
      CASE
        WHEN transactions.transaction_date >= CAST(:last_start AS TIMESTAMP_NTZ)
        THEN transactions.amount
        ELSE 0
      END
    ) AS revenue_last_12m,
    SUM(
      CASE
        WHEN transactions.transaction_date < CAST(:last_start AS TIMESTAMP_NTZ)
        THEN transactions.amount
        ELSE 0
      END
    ) AS revenue_prior_12m
  FROM transactions AS transactions
  WHERE
    transactions.transaction_date >= CAST(:prior_start AS TIMESTAMP_NTZ)
    AND transactions.transaction_date < CAST(:cutoff AS TIMESTAMP_NTZ)
  GROUP BY
    transactions.customer_key
)
SELECT
  c.customer_id AS customer_id,
  f.first_purchase_day AS first_purchase_day,
  DATEDIFF(CAST(:as_of AS DATE), f.first_purchase_day) + 1 AS tenure_days,
  COALESCE(r.revenue_last_12m, 0.0) AS revenue_last_12m,
  COALESCE(r.revenue_prior_12m, 0.0) AS revenue_prior_12m
FROM firsts AS f
JOIN customers AS c
  ON c.customer_key = f.customer_key
LEFT JOIN revenue AS r
  ON r.customer_key = f.customer_key
ORDER BY
  c.customer_id NULLS LAST
