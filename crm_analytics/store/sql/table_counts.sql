-- @params cutoff:TIMESTAMP
-- @grain table_name
-- @engines duckdb spark
-- Row counts of the canonical tables as of a date.
-- Parameters: $cutoff (TIMESTAMP, exclusive: the day after as_of at 00:00)
-- Output: table_name, n_rows
SELECT 'customers' AS table_name, count(*) AS n_rows FROM customers
WHERE created_at IS NULL OR created_at < $cutoff
UNION ALL
SELECT 'transactions', count(*) FROM transactions WHERE transaction_date < $cutoff
UNION ALL
SELECT 'tickets', count(*) FROM tickets WHERE opened_at < $cutoff
UNION ALL
SELECT 'survey_responses', count(*) FROM survey_responses WHERE responded_at < $cutoff
