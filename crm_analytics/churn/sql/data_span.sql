-- @params (none)
-- @grain (one row)
-- @engines duckdb spark
-- First and last transaction timestamps in the store (to check label windows are observed).
-- Parameters: none
-- Output: first_transaction, last_transaction, n_transactions
SELECT MIN(transaction_date) AS first_transaction, MAX(transaction_date) AS last_transaction,
       COUNT(*) AS n_transactions
FROM transactions
