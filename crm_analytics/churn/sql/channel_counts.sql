-- @params cutoff:TIMESTAMP
-- @grain channel
-- @engines duckdb spark
-- Purchase lines per channel before $cutoff (to fix the channels whose share is a feature).
-- Parameters: $cutoff (TIMESTAMP, as_of + 1 day at 00:00)
-- Output: channel, n_lines (most used first; ties by name)
SELECT channel, COUNT(*) AS n_lines
FROM transactions
WHERE transaction_date < $cutoff AND amount >= 0 AND channel IS NOT NULL
GROUP BY channel
ORDER BY n_lines DESC, channel
