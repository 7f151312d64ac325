-- Generated from crm_analytics/churn/sql/attribute_levels.sql by crm_analytics.spark.translate (sqlglot 30.30.0); do not edit.
WITH counts AS (
  SELECT
    customer_attributes.name AS name,
    customer_attributes.value AS value,
    COUNT(*) AS n,
    CASE WHEN TRY_CAST(customer_attributes.value AS DOUBLE) IS NULL THEN 0 ELSE 1 END AS is_number
  FROM customer_attributes AS customer_attributes
  WHERE
    CAST(:cutoff AS TIMESTAMP_NTZ) IS NULL
    OR customer_attributes.customer_id IN (
      SELECT
        customers.customer_id AS customer_id
      FROM customers AS customers
      WHERE
        customers.created_at IS NULL
        OR customers.created_at < CAST(:cutoff AS TIMESTAMP_NTZ)
    )
  GROUP BY
    customer_attributes.name,
    customer_attributes.value
), per_name AS (
  SELECT
    counts.name AS name,
    SUM(counts.n) AS customers,
    MIN(counts.is_number) AS is_numeric,
    COUNT(*) AS n_values
  FROM counts AS counts
  GROUP BY
    counts.name
), ranked AS (
  SELECT
    counts.name AS name,
    counts.value AS value,
    counts.n AS n,
    ROW_NUMBER() OVER (
      PARTITION BY counts.name
      ORDER BY counts.n DESC NULLS LAST, counts.value NULLS LAST
    ) AS level_rank
  FROM counts AS counts
)
SELECT
  p.name AS name,
  p.customers AS customers,
  p.is_numeric AS is_numeric,
  p.n_values AS n_values,
  r.value AS value,
  r.n AS value_customers
FROM per_name AS p
LEFT JOIN ranked AS r
  ON r.name = p.name AND p.is_numeric = 0 AND r.level_rank <= CAST(:max_levels AS INT)
ORDER BY
  p.name NULLS LAST,
  r.level_rank NULLS LAST
