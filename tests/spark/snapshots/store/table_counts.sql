-- Generated from crm_analytics/store/sql/table_counts.sql by crm_analytics.spark.translate (sqlglot 30.30.0); do not edit.
SELECT
  'customers' AS table_name,
  COUNT(*) AS n_rows
FROM customers AS customers
WHERE
  customers.created_at IS NULL
  OR customers.created_at < CAST(:cutoff AS TIMESTAMP_NTZ)
UNION ALL
SELECT
  'transactions' AS transactions,
  COUNT(*) AS _col_1
FROM transactions AS transactions
WHERE
  transactions.transaction_date < CAST(:cutoff AS TIMESTAMP_NTZ)
UNION ALL
SELECT
  'tickets' AS tickets,
  COUNT(*) AS _col_1
FROM tickets AS tickets
WHERE
  tickets.opened_at < CAST(:cutoff AS TIMESTAMP_NTZ)
UNION ALL
SELECT
  'survey_responses' AS survey_responses,
  COUNT(*) AS _col_1
FROM survey_responses AS survey_responses
WHERE
  survey_responses.responded_at < CAST(:cutoff AS TIMESTAMP_NTZ)
