-- Generated from crm_analytics/satisfaction/sql/survey_cells.sql by crm_analytics.spark.translate (sqlglot 30.30.0); do not edit.
WITH attrs AS (
  SELECT
    customers.customer_id AS customer_id,
    customers.region AS region,
    customers.customer_type AS customer_type,
    customers.industry AS industry,
    customers.country AS country,
    CASE
      WHEN customers.customer_type = 'consumer'
      THEN 'consumer'
      WHEN customers.employees IS NULL AND customers.annual_revenue IS NULL
      THEN 'unknown'
      WHEN customers.employees >= CAST(:large_employees AS BIGINT)
      OR customers.annual_revenue >= CAST(:large_revenue AS DOUBLE)
      THEN 'large'
      ELSE 'small_medium'
    END AS size_band
  FROM customers AS customers
), answers AS (
  SELECT
    CASE CAST(:by_1 AS STRING)
      WHEN 'region'
      THEN a.region
      WHEN 'customer_type'
      THEN a.customer_type
      WHEN 'industry'
      THEN a.industry
      WHEN 'size_band'
      THEN a.size_band
      WHEN 'country'
      THEN a.country
    END AS group_1,
    CASE CAST(:by_2 AS STRING)
      WHEN 'region'
      THEN a.region
      WHEN 'customer_type'
      THEN a.customer_type
      WHEN 'industry'
      THEN a.industry
      WHEN 'size_band'
      THEN a.size_band
      WHEN 'country'
      THEN a.country
    END AS group_2,
    CASE CAST(:by_3 AS STRING)
      WHEN 'region'
      THEN a.region
      WHEN 'customer_type'
      THEN a.customer_type
      WHEN 'industry'
      THEN a.industry
      WHEN 'size_band'
      THEN a.size_band
      WHEN 'country'
      THEN a.country
    END AS group_3,
    CAST(DATE_TRUNC(CAST(:period AS STRING), r.responded_at) AS TIMESTAMP_NTZ) AS period_start,
    r.score AS score,
    r.scale_min AS scale_min,
    r.scale_max AS scale_max
  FROM survey_responses AS r
  LEFT JOIN attrs AS a
    ON a.customer_id = r.customer_id
  WHERE
    r.item = CAST(:item AS STRING)
    AND r.responded_at < CAST(:cutoff AS TIMESTAMP_NTZ)
    AND (
      CAST(:since AS TIMESTAMP_NTZ) IS NULL
      OR r.responded_at >= CAST(:since AS TIMESTAMP_NTZ)
    )
)
SELECT
  answers.group_1 AS group_1,
  answers.group_2 AS group_2,
  answers.group_3 AS group_3,
  answers.period_start AS period_start,
  answers.score AS score,
  answers.scale_min AS scale_min,
  answers.scale_max AS scale_max,
  COUNT(*) AS n_answers
FROM answers AS answers
GROUP BY
  answers.group_1,
  answers.group_2,
  answers.group_3,
  answers.period_start,
  answers.score,
  answers.scale_min,
  answers.scale_max
ORDER BY
  group_1 NULLS LAST,
  group_2 NULLS LAST,
  group_3 NULLS LAST,
  period_start NULLS LAST,
  score NULLS LAST
