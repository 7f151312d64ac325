-- @params column:VARCHAR large_employees:INTEGER large_revenue:DOUBLE
-- @grain customer_id
-- @engines duckdb
-- One customer attribute as a segment label, for the revenue forecast (clv/revenue_forecast.py):
-- the column is chosen by the bound parameter $column, so no name is formatted into SQL and
-- only the one column is read (the full store/sql/customer_attributes.sql reads names, e-mails
-- and phones too: 6 s instead of ~1 s for a million customers).
--
-- Parameters:
--   $column           VARCHAR  customer_type, size_band, industry, country or region
--   $large_employees  INTEGER  size band threshold (see store/sql/size_band.sql)
--   $large_revenue    DOUBLE   size band threshold
-- Output, one row per customer: customer_id, label (NULL where the attribute is empty)
SELECT
    customer_id,
    CASE $column
        WHEN 'customer_type' THEN customer_type
        WHEN 'size_band' THEN
            -- @include store/sql/size_band.sql
        WHEN 'industry' THEN industry
        WHEN 'country' THEN country
        WHEN 'region' THEN region
    END AS label
FROM customers
