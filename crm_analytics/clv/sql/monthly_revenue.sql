-- @params start:TIMESTAMP cutoff:TIMESTAMP
-- @grain customer_id month
-- @engines duckdb
-- Revenue per customer and calendar month, the quantity the revenue forecast predicts
-- (clv/revenue_forecast.py): actuals of its back-test and the history of the time-series baselines.
--
-- Revenue is the net amount of purchase occasions, the policy of clv/sql/rfm_summary.sql:
-- a customer-day with at least one sale (a row with amount >= 0) counts with all its rows
-- summed (same-day refunds net in); a day with refunds only is not a purchase occasion and
-- is left out, as the purchase and spend models leave it out. Only customer-months with a
-- purchase occasion appear (at most one row per purchase day, usually far fewer).
--
-- Parameters:
--   $start    TIMESTAMP  first moment counted (inclusive), the first day of a month
--   $cutoff   TIMESTAMP  end (exclusive): as_of + 1 day at 00:00
-- Output, one row per customer and month with a purchase occasion:
--   customer_id, month (DATE, first day of the month), revenue, purchases (purchase days)
WITH
-- @include clv/sql/customer_months.sql
SELECT c.customer_id, m.month, m.revenue, CAST(m.purchases AS DOUBLE) AS purchases
FROM customer_months AS m
JOIN customers AS c ON c.customer_key = m.customer_key
ORDER BY c.customer_id, m.month
