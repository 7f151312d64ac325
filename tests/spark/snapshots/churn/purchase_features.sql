-- Generated from crm_analytics/churn/sql/purchase_features.sql by crm_analytics.spark.translate (sqlglot 30.30.0); do not edit.
WITH tx AS (
  SELECT
    transactions.customer_id AS customer_id,
    CAST(transactions.transaction_date AS DATE) AS day,
    transactions.amount AS amount,
    transactions.product_category AS product_category,
    transactions.channel AS channel
  FROM transactions AS transactions
  WHERE
    transactions.transaction_date < CAST(:cutoff AS TIMESTAMP_NTZ)
), active AS (
  SELECT
    tx.customer_id AS customer_id
  FROM tx AS tx
  WHERE
    tx.amount >= 0 AND tx.day >= CAST(:active_from AS DATE)
  GROUP BY
    tx.customer_id
), atx AS (
  SELECT
    tx.customer_id AS customer_id,
    tx.day AS day,
    tx.amount AS amount,
    tx.product_category AS product_category,
    tx.channel AS channel
  FROM tx AS tx
  JOIN active AS active
    ON active.customer_id = tx.customer_id
), days AS (
  SELECT
    atx.customer_id AS customer_id,
    atx.day AS day,
    SUM(atx.amount) AS spend
  FROM atx AS atx
  WHERE
    atx.amount >= 0
  GROUP BY
    atx.customer_id,
    atx.day
), gaps AS (
  SELECT
    days.customer_id AS customer_id,
    days.day AS day,
    days.spend AS spend,
    DATEDIFF(
      days.day,
      LAG(days.day) OVER (PARTITION BY days.customer_id ORDER BY days.day NULLS LAST)
    ) AS gap_days
  FROM days AS days
), per_day AS (
  SELECT
    gaps.customer_id AS customer_id,
    MIN(gaps.day) AS first_day,
    MAX(gaps.day) AS last_day,
    COUNT(*) AS purchases_total,
    SUM(CASE WHEN gaps.day >= CAST(:d30 AS DATE) THEN 1 ELSE 0 END) AS purchases_30d,
    SUM(CASE WHEN gaps.day >= CAST(:d90 AS DATE) THEN 1 ELSE 0 END) AS purchases_90d,
    SUM(CASE WHEN gaps.day >= CAST(:d180 AS DATE) THEN 1 ELSE 0 END) AS purchases_180d,
    SUM(CASE WHEN gaps.day >= CAST(:d365 AS DATE) THEN 1 ELSE 0 END) AS purchases_365d,
    SUM(
      CASE
        WHEN gaps.day BETWEEN CAST(:prev90_from AS DATE) AND CAST(:prev90_to AS DATE)
        THEN 1
        ELSE 0
      END
    ) AS purchases_prev_90d,
    SUM(gaps.spend) AS spend_total,
    SUM(CASE WHEN gaps.day >= CAST(:d30 AS DATE) THEN gaps.spend ELSE 0 END) AS spend_30d,
    SUM(CASE WHEN gaps.day >= CAST(:d90 AS DATE) THEN gaps.spend ELSE 0 END) AS spend_90d,
    SUM(CASE WHEN gaps.day >= CAST(:d180 AS DATE) THEN gaps.spend ELSE 0 END) AS spend_180d,
    SUM(CASE WHEN gaps.day >= CAST(:d365 AS DATE) THEN gaps.spend ELSE 0 END) AS spend_365d,
    SUM(
      CASE
        WHEN gaps.day BETWEEN CAST(:prev90_from AS DATE) AND CAST(:prev90_to AS DATE)
        THEN gaps.spend
        ELSE 0
      END
    ) AS spend_prev_90d,
    PERCENTILE(gaps.gap_days, 0.5) AS gap_median_days,
    AVG(CAST(gaps.gap_days AS DOUBLE)) AS gap_mean_days
  FROM gaps AS gaps
  GROUP BY
    gaps.customer_id
), per_line AS (
  SELECT
    atx.customer_id AS customer_id,
    COUNT(
      DISTINCT CASE
        WHEN atx.amount >= 0 AND atx.day >= CAST(:d365 AS DATE)
        THEN atx.product_category
      END
    ) AS categories_365d,
    COUNT(DISTINCT CASE WHEN atx.amount >= 0 THEN atx.product_category END) AS categories_total,
    SUM(CASE WHEN atx.amount < 0 AND atx.day >= CAST(:d365 AS DATE) THEN 1 ELSE 0 END) AS refunds_365d,
    SUM(
      CASE
        WHEN atx.amount < 0 AND atx.day >= CAST(:d365 AS DATE)
        THEN -atx.amount
        ELSE 0
      END
    ) AS refund_amount_365d,
    SUM(CASE WHEN atx.amount >= 0 AND NOT atx.channel IS NULL THEN 1 ELSE 0 END) AS channel_lines,
    SUM(
      CASE
        WHEN atx.amount >= 0 AND atx.channel = CAST(:channel_1 AS STRING)
        THEN 1
        ELSE 0
      END
    ) AS channel_lines_1,
    SUM(
      CASE
        WHEN atx.amount >= 0 AND atx.channel = CAST(:channel_2 AS STRING)
        THEN 1
        ELSE 0
      END
    ) AS channel_lines_2,
    SUM(
      CASE
        WHEN atx.amount >= 0 AND atx.channel = CAST(:channel_3 AS STRING)
        THEN 1
        ELSE 0
      END
    ) AS channel_lines_3
  FROM atx AS atx
  GROUP BY
    atx.customer_id
), channel_counts AS (
  SELECT
    atx.customer_id AS customer_id,
    atx.channel AS channel,
    COUNT(*) AS n_lines
  FROM atx AS atx
  WHERE
    atx.amount >= 0 AND NOT atx.channel IS NULL
  GROUP BY
    atx.customer_id,
    atx.channel
), top_channel AS (
  SELECT
    ranked.customer_id AS customer_id,
    ranked.channel AS channel,
    ranked.n_lines AS n_lines
  FROM (
    SELECT
      channel_counts.customer_id AS customer_id,
      channel_counts.channel AS channel,
      channel_counts.n_lines AS n_lines,
      ROW_NUMBER() OVER (
        PARTITION BY channel_counts.customer_id
        ORDER BY channel_counts.n_lines DESC NULLS LAST, channel_counts.channel NULLS LAST
      ) AS rank_
    FROM channel_counts AS channel_counts
  ) AS ranked
  WHERE
    ranked.rank_ = 1
)
SELECT
  d.customer_id AS customer_id,
  DATEDIFF(CAST(:as_of AS DATE), d.last_day) AS recency_days,
  DATEDIFF(CAST(:as_of AS DATE), d.first_day) AS tenure_days,
  d.purchases_total AS purchases_total,
  d.purchases_30d AS purchases_30d,
  d.purchases_90d AS purchases_90d,
  d.purchases_180d AS purchases_180d,
  d.purchases_365d AS purchases_365d,
  d.purchases_prev_90d AS purchases_prev_90d,
  d.spend_total AS spend_total,
  d.spend_30d AS spend_30d,
  d.spend_90d AS spend_90d,
  d.spend_180d AS spend_180d,
  d.spend_365d AS spend_365d,
  d.spend_prev_90d AS spend_prev_90d,
  (
    CASE
      WHEN CAST(d.purchases_total AS DOUBLE) = 0
      THEN CAST(d.spend_total AS DOUBLE) * CAST('Infinity' AS DOUBLE)
      ELSE CAST(d.spend_total AS DOUBLE) / CAST(d.purchases_total AS DOUBLE)
    END
  ) AS spend_per_purchase,
  CASE
    WHEN d.spend_90d + d.spend_prev_90d > 0
    THEN (
      CASE
        WHEN CAST((
          d.spend_90d + d.spend_prev_90d
        ) AS DOUBLE) = 0
        THEN CAST((
          d.spend_90d - d.spend_prev_90d
        ) AS DOUBLE) * CAST('Infinity' AS DOUBLE)
        ELSE CAST((
          d.spend_90d - d.spend_prev_90d
        ) AS DOUBLE) / CAST((
          d.spend_90d + d.spend_prev_90d
        ) AS DOUBLE)
      END
    )
  END AS spend_trend,
  CASE
    WHEN d.purchases_90d + d.purchases_prev_90d > 0
    THEN (
      CASE
        WHEN CAST((
          d.purchases_90d + d.purchases_prev_90d
        ) AS DOUBLE) = 0
        THEN CAST(d.purchases_90d - d.purchases_prev_90d AS DOUBLE) * CAST('Infinity' AS DOUBLE)
        ELSE CAST(d.purchases_90d - d.purchases_prev_90d AS DOUBLE) / CAST((
          d.purchases_90d + d.purchases_prev_90d
        ) AS DOUBLE)
      END
    )
  END AS frequency_trend,
  d.gap_median_days AS gap_median_days,
  d.gap_mean_days AS gap_mean_days,
  CASE
    WHEN d.gap_median_days > 0
    THEN (
      CASE
        WHEN d.gap_median_days = 0
        THEN CAST((
          DATEDIFF(CAST(:as_of AS DATE), d.last_day)
        ) AS DOUBLE) * CAST('Infinity' AS DOUBLE)
        ELSE CAST((
          DATEDIFF(CAST(:as_of AS DATE), d.last_day)
        ) AS DOUBLE) / d.gap_median_days
      END
    )
  END AS overdue_ratio,
  l.categories_365d AS categories_365d,
  l.categories_total AS categories_total,
  l.refunds_365d AS refunds_365d,
  l.refund_amount_365d AS refund_amount_365d,
  t.channel AS top_channel,
  CAST(t.n_lines AS DOUBLE) / CAST(NULLIF(l.channel_lines, 0) AS DOUBLE) AS top_channel_share,
  CAST(l.channel_lines_1 AS DOUBLE) / CAST(NULLIF(l.channel_lines, 0) AS DOUBLE) AS channel_share_1,
  CAST(l.channel_lines_2 AS DOUBLE) / CAST(NULLIF(l.channel_lines, 0) AS DOUBLE) AS channel_share_2,
  CAST(l.channel_lines_3 AS DOUBLE) / CAST(NULLIF(l.channel_lines, 0) AS DOUBLE) AS channel_share_3
FROM per_day AS d
JOIN per_line AS l
  ON l.customer_id = d.customer_id
LEFT JOIN top_channel AS t
  ON t.customer_id = d.customer_id
ORDER BY
  d.customer_id NULLS LAST
