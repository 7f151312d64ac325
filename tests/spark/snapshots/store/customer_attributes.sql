-- Generated from crm_analytics/store/sql/customer_attributes.sql by crm_analytics.spark.translate (sqlglot 30.30.0); do not edit.
SELECT
  customers.customer_id AS customer_id,
  customers.name AS name,
  customers.email AS email,
  customers.phone AS phone,
  customers.customer_type AS customer_type,
  CASE
    WHEN customers.customer_type = 'consumer'
    THEN 'consumer'
    WHEN customers.employees IS NULL AND customers.annual_revenue IS NULL
    THEN 'unknown'
    WHEN customers.employees >= CAST(:large_employees AS INT)
    OR customers.annual_revenue >= CAST(:large_revenue AS DOUBLE)
    THEN 'large'
    ELSE 'small_medium'
  END AS size_band,
  customers.industry AS industry,
  customers.country AS country,
  customers.region AS region,
  customers.employees AS employees,
  customers.annual_revenue AS annual_revenue,
  customers.created_at AS created_at,
  customers.marketing_opt_in AS marketing_opt_in
FROM customers AS customers
WHERE
  CAST(:cutoff AS TIMESTAMP_NTZ) IS NULL
  OR customers.created_at IS NULL
  OR customers.created_at < CAST(:cutoff AS TIMESTAMP_NTZ)
ORDER BY
  customer_id NULLS LAST
