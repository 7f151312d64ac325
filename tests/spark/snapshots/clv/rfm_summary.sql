-- Generated from crm_analytics/clv/sql/rfm_summary.sql by crm_analytics.spark.translate (sqlglot 30.30.0); do not edit.
WITH purchase_days AS (
  SELECT
    transactions.customer_key AS customer_key,
    CAST(transactions.transaction_date AS DATE) AS day,
    SUM(transactions.amount) AS amount
  FROM transactions AS transactions
  WHERE
    transactions.transaction_date < CAST(:cutoff AS TIMESTAMP_NTZ)
  GROUP BY
    transactions.customer_key,
    CAST(transactions.transaction_date AS DATE)
  HAVING
    MAX(transactions.amount) >= 0
), per_customer AS (
  SELECT
    purchase_days.customer_key AS customer_key,
    MIN(purchase_days.day) AS first_day,
    MAX(
      CASE
        WHEN purchase_days.day <= CAST(:calibration_end AS DATE)
        THEN purchase_days.day
      END
    ) AS last_day,
    SUM(CASE WHEN purchase_days.day <= CAST(:calibration_end AS DATE) THEN 1 ELSE 0 END) AS n_days,
    SUM(
      CASE
        WHEN purchase_days.day <= CAST(:calibration_end AS DATE)
        THEN purchase_days.amount
        ELSE 0
      END
    ) AS amount,
    MIN_BY(purchase_days.amount, purchase_days.day) AS first_amount,
    SUM(CASE WHEN purchase_days.day > CAST(:calibration_end AS DATE) THEN 1 ELSE 0 END) AS n_holdout,
    AVG(
      CAST(CASE
        WHEN purchase_days.day > CAST(:calibration_end AS DATE)
        THEN purchase_days.amount
      END AS DOUBLE)
    ) AS mean_holdout
  FROM purchase_days AS purchase_days
  GROUP BY
    purchase_days.customer_key
  HAVING
    MIN(purchase_days.day) <= CAST(:calibration_end AS DATE)
)
SELECT
  c.customer_id AS customer_id,
  CAST(p.n_days - 1 AS DOUBLE) AS frequency,
  (
    CASE
      WHEN CAST(:days_per_unit AS DOUBLE) = 0
      THEN CAST(DATEDIFF(p.last_day, p.first_day) AS DOUBLE) * CAST('Infinity' AS DOUBLE)
      ELSE CAST(DATEDIFF(p.last_day, p.first_day) AS DOUBLE) / CAST(:days_per_unit AS DOUBLE)
    END
  ) AS recency,
  (
    CASE
      WHEN CAST(:days_per_unit AS DOUBLE) = 0
      THEN CAST(DATEDIFF(CAST(:calibration_end AS DATE), p.first_day) AS DOUBLE) * CAST('Infinity' AS DOUBLE)
      ELSE CAST(DATEDIFF(CAST(:calibration_end AS DATE), p.first_day) AS DOUBLE) / CAST(:days_per_unit AS DOUBLE)
    END
  ) AS `T`,
  CASE
    WHEN p.n_days > 1
    THEN (
      CASE
        WHEN CAST((
          p.n_days - 1
        ) AS DOUBLE) = 0
        THEN CAST((
          p.amount - p.first_amount
        ) AS DOUBLE) * CAST('Infinity' AS DOUBLE)
        ELSE CAST((
          p.amount - p.first_amount
        ) AS DOUBLE) / CAST((
          p.n_days - 1
        ) AS DOUBLE)
      END
    )
    ELSE 0.0
  END AS monetary_value,
  CAST(p.n_holdout AS DOUBLE) AS frequency_holdout,
  COALESCE(p.mean_holdout, 0.0) AS monetary_value_holdout,
  (
    CASE
      WHEN CAST(:days_per_unit AS DOUBLE) = 0
      THEN CAST(DATEDIFF(CAST(:as_of AS DATE), CAST(:calibration_end AS DATE)) AS DOUBLE) * CAST('Infinity' AS DOUBLE)
      ELSE CAST(DATEDIFF(CAST(:as_of AS DATE), CAST(:calibration_end AS DATE)) AS DOUBLE) / CAST(:days_per_unit AS DOUBLE)
    END
  ) AS duration_holdout
FROM per_customer AS p
JOIN customers AS c
  ON c.customer_key = p.customer_key
ORDER BY
  c.customer_id NULLS LAST
