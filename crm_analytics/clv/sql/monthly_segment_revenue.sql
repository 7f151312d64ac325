-- @params start:TIMESTAMP cutoff:TIMESTAMP column:VARCHAR large_employees:INTEGER large_revenue:DOUBLE
-- @grain label month
-- @engines duckdb
-- Revenue per customer-attribute segment and calendar month, for the back-test of the revenue
-- forecast (clv/revenue_forecast.py, clv/backtest.py) when it segments by an attribute or not
-- at all: aggregated here, so pandas gets a few rows per month instead of one per customer.
--
-- Revenue as in clv/sql/monthly_revenue.sql (both from clv/sql/customer_months.sql): the net amount of purchase occasions (customer-
-- days with at least one sale, same-day refunds netted in; refund-only days left out).
-- The segment column is chosen by the bound parameter $column, as in
-- clv/sql/segment_attribute.sql ('' for no segments: label NULL).
--
-- Parameters:
--   $start            TIMESTAMP  first moment counted (inclusive), the first day of a month
--   $cutoff           TIMESTAMP  end (exclusive): as_of + 1 day at 00:00
--   $column           VARCHAR    customer_type, size_band, industry, country, region or ''
--   $large_employees  INTEGER    size band threshold (see store/sql/size_band.sql)
--   $large_revenue    DOUBLE     size band threshold
-- Output, one row per segment and month with revenue:
--   label (NULL: attribute empty, or no segments), month (DATE, first day), revenue
WITH
-- @include clv/sql/customer_months.sql
SELECT
    CASE $column
        WHEN 'customer_type' THEN c.customer_type
        WHEN 'size_band' THEN
            -- @include store/sql/size_band.sql
        WHEN 'industry' THEN c.industry
        WHEN 'country' THEN c.country
        WHEN 'region' THEN c.region
    END AS label,
    m.month,
    SUM(m.revenue) AS revenue
FROM customer_months AS m
JOIN customers AS c ON c.customer_key = m.customer_key
GROUP BY 1, 2
ORDER BY 1, 2
