-- @params item:VARCHAR since:TIMESTAMP cutoff:TIMESTAMP period:VARCHAR by_1:VARCHAR by_2:VARCHAR by_3:VARCHAR large_employees:BIGINT large_revenue:DOUBLE
-- @grain group_1 group_2 group_3 period_start score scale_min scale_max
-- @engines duckdb spark
-- Answers to one survey item counted per cell (up to three customer attributes) and period,
-- as of a date: the input of nps_table / csat_table (count_col='n_answers').
-- Parameters:
--   $item (VARCHAR)              survey item, e.g. 'nps' or 'csat'
--   $since (TIMESTAMP or NULL)   first moment counted (inclusive); NULL = from the start
--   $cutoff (TIMESTAMP)          exclusive upper bound: the day after as_of at 00:00
--   $period (VARCHAR or NULL)    'month', 'quarter' or 'year'; NULL = no period column
--   $by_1, $by_2, $by_3 (VARCHAR or NULL)  customer attribute of each cell column:
--                                region, customer_type, industry, size_band or country
--   $large_employees (BIGINT), $large_revenue (DOUBLE)  size-band thresholds
-- Output: group_1, group_2, group_3 (VARCHAR; NULL when unused or unknown), period_start
--         (TIMESTAMP; NULL without period), score, scale_min, scale_max (DOUBLE),
--         n_answers (BIGINT): one row per distinct combination.
-- Answers of customers missing from the customers table are kept, with NULL attributes.
WITH attrs AS (
    SELECT
        customer_id, region, customer_type, industry, country,
        -- @include store/sql/size_band.sql
        AS size_band
    FROM customers
),
answers AS (
    SELECT
        CASE $by_1 WHEN 'region' THEN a.region WHEN 'customer_type' THEN a.customer_type
            WHEN 'industry' THEN a.industry WHEN 'size_band' THEN a.size_band
            WHEN 'country' THEN a.country END AS group_1,
        CASE $by_2 WHEN 'region' THEN a.region WHEN 'customer_type' THEN a.customer_type
            WHEN 'industry' THEN a.industry WHEN 'size_band' THEN a.size_band
            WHEN 'country' THEN a.country END AS group_2,
        CASE $by_3 WHEN 'region' THEN a.region WHEN 'customer_type' THEN a.customer_type
            WHEN 'industry' THEN a.industry WHEN 'size_band' THEN a.size_band
            WHEN 'country' THEN a.country END AS group_3,
        date_trunc($period, r.responded_at) AS period_start,
        r.score, r.scale_min, r.scale_max
    FROM survey_responses AS r
    LEFT JOIN attrs AS a ON a.customer_id = r.customer_id
    WHERE r.item = $item
      AND r.responded_at < $cutoff
      AND ($since IS NULL OR r.responded_at >= $since)
)
SELECT group_1, group_2, group_3, period_start, score, scale_min, scale_max,
       count(*) AS n_answers
FROM answers
GROUP BY group_1, group_2, group_3, period_start, score, scale_min, scale_max
ORDER BY group_1, group_2, group_3, period_start, score
