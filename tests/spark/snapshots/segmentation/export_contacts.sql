-- Generated from crm_analytics/segmentation/sql/export_contacts.sql by crm_analytics.spark.translate (sqlglot 30.30.0); do not edit.
SELECT
  customers.customer_id AS customer_id,
  customers.name AS name,
  customers.email AS email,
  customers.phone AS phone,
  customers.marketing_opt_in AS marketing_opt_in
FROM customers AS customers
ORDER BY
  customer_id NULLS LAST
