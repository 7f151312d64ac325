-- @params cutoff:TIMESTAMP as_of:DATE calibration_end:DATE days_per_unit:DOUBLE
-- @grain customer_id
-- @engines duckdb spark
-- BTYD summary per customer: frequency, recency, T, monetary_value, with an optional
-- calibration / holdout split.
--
-- A purchase occasion is a customer-day with at least one sale (a row with amount >= 0;
-- free items count). All rows of the day are summed, so basket lines merge and a refund
-- nets into its day; a day with refunds only (every amount < 0) is not a purchase
-- occasion and its amount is ignored. The first purchase day starts the customer's
-- clock; repeat purchase days are counted after it.
--
-- One GROUP BY per customer-day, then one per customer (the per-customer part is the
-- fragment clv/sql/rfm_from_days.sql, shared with clv/sql/rfm_summary_days.sql, which
-- reads the customer-days the loader keeps in the store's customer_days table instead
-- of grouping the transactions again: 0.8 s instead of 4.0 s on a million customers).
-- MIN_BY(amount, day) (the first day's amount; also in Spark, Trino and Snowflake) saves
-- joining the days back to each customer's first day, which takes 60 % longer on a
-- million customers. Both GROUP BYs run on the integer customer_key (the store's
-- surrogate of customer_id, carried in every transaction, whose rows are stored in key
-- order); customer_id is joined back once per customer at the end. On 21.6 million rows
-- (1M customers) that took the summary from 6.5 s to 4.0 s (benchmarks/rfm_groupby.py);
-- what remains is mostly the customer-day GROUP BY itself: 17 million groups, ~0.8 per row.
--
-- Parameters:
--   $cutoff              TIMESTAMP  as_of + 1 day at 00:00; rows with timestamp < $cutoff count
--   $as_of               DATE       last day observed (inclusive)
--   $calibration_end     DATE       last day of the calibration period ($as_of without a split)
--   $days_per_unit       DOUBLE     days per time unit: 1 ('D'), 7 ('W'), 365.25 / 12 ('M')
-- Output, one row per customer whose first purchase day is <= $calibration_end:
--   customer_id
--   frequency               repeat purchase days in the calibration period
--   recency                 first to last calibration purchase day, in time units
--   T                       first purchase day to $calibration_end, in time units
--   monetary_value          mean net amount of the repeat purchase days (0 if none; can
--                           be <= 0 when same-day refunds exceed the sales)
--   frequency_holdout       purchase days after $calibration_end, up to $as_of
--   monetary_value_holdout  mean net amount of those days (0 if none)
--   duration_holdout        $calibration_end to $as_of, in time units
WITH purchase_days AS (
    SELECT customer_key, CAST(transaction_date AS DATE) AS day, SUM(amount) AS amount
    FROM transactions
    WHERE transaction_date < $cutoff
    GROUP BY customer_key, CAST(transaction_date AS DATE)
    HAVING MAX(amount) >= 0
),
-- @include clv/sql/rfm_from_days.sql
