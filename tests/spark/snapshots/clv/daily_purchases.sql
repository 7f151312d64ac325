-- Generated from crm_analytics/clv/sql/daily_purchases.sql by crm_analytics.spark.translate (sqlglot 30.30.0); do not edit.
WITH purchase_days AS (
  SELECT
    transactions.customer_key AS customer_key,
    CAST(transactions.transaction_date AS DATE) AS day
  FROM transactions AS transactions
  WHERE
    transactions.transaction_date < CAST(:cutoff AS TIMESTAMP_NTZ)
  GROUP BY
    transactions.customer_key,
    CAST(transactions.transaction_date AS DATE)
  HAVING
    MAX(transactions.amount) >= 0
), cohort AS (
  SELECT
    purchase_days.customer_key AS customer_key,
    MIN(purchase_days.day) AS first_day
  FROM purchase_days AS purchase_days
  GROUP BY
    purchase_days.customer_key
  HAVING
    MIN(purchase_days.day) <= CAST(:cohort_end AS DATE)
)
SELECT
  d.day AS day,
  SUM(CASE WHEN d.day = c.first_day THEN 1 ELSE 0 END) AS new_customers,
  SUM(CASE WHEN d.day > c.first_day THEN 1 ELSE 0 END) AS repeat_purchases
FROM purchase_days AS d
JOIN cohort AS c
  ON c.customer_key = d.customer_key
GROUP BY
  d.day
ORDER BY
  day NULLS LAST
