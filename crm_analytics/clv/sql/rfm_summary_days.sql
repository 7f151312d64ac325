-- @params cutoff:TIMESTAMP as_of:DATE calibration_end:DATE days_per_unit:DOUBLE
-- @grain customer_id
-- @engines duckdb
-- The BTYD summary of clv/sql/rfm_summary.sql (same parameters, same rows, same columns)
-- read from the store's customer_days table (one row per customer and day: summed amount,
-- has_sale; kept current by the loader, crm_analytics/store/customer_days.py) instead of
-- grouping the transactions into customer-days again. $cutoff is a midnight (as_of + 1
-- day), so `transaction_date < $cutoff` is `day < CAST($cutoff AS DATE)`. Used only when
-- the table is current. On 1 M customers: 0.8 s instead of 4.0 s (benchmarks/rfm_groupby.py).
WITH purchase_days AS (
    SELECT customer_key, day, amount
    FROM customer_days
    WHERE day < CAST($cutoff AS DATE) AND has_sale
),
-- @include clv/sql/rfm_from_days.sql
