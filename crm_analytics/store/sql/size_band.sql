-- @params large_employees:INTEGER large_revenue:DOUBLE
-- @grain (fragment)
-- @engines duckdb spark
-- Fragment, included with `-- @include store/sql/size_band.sql`: the size band of a row of
-- customers as one CASE expression (the rule of crm_analytics/features.py).
-- Parameters: $large_employees (INTEGER), $large_revenue (DOUBLE)
CASE
    WHEN customer_type = 'consumer' THEN 'consumer'
    WHEN employees IS NULL AND annual_revenue IS NULL THEN 'unknown'
    WHEN employees >= $large_employees OR annual_revenue >= $large_revenue THEN 'large'
    ELSE 'small_medium'
END
