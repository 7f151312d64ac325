-- @params calibration_end:DATE as_of:DATE days_per_unit:DOUBLE
-- @grain (fragment)
-- @engines duckdb spark
-- Fragment, included after a CTE `purchase_days (customer_key, day, amount)` of purchase
-- occasions (one row per customer-day with a sale): the per-customer BTYD summary of
-- clv/sql/rfm_summary.sql (its header documents the columns and parameters).
per_customer AS (
    SELECT
        customer_key,
        MIN(day) AS first_day,
        MAX(CASE WHEN day <= $calibration_end THEN day END) AS last_day,
        SUM(CASE WHEN day <= $calibration_end THEN 1 ELSE 0 END) AS n_days,
        SUM(CASE WHEN day <= $calibration_end THEN amount ELSE 0 END) AS amount,
        MIN_BY(amount, day) AS first_amount,
        SUM(CASE WHEN day > $calibration_end THEN 1 ELSE 0 END) AS n_holdout,
        AVG(CASE WHEN day > $calibration_end THEN amount END) AS mean_holdout
    FROM purchase_days
    GROUP BY customer_key
    HAVING MIN(day) <= $calibration_end
)
SELECT
    c.customer_id,
    CAST(p.n_days - 1 AS DOUBLE) AS frequency,
    CAST(p.last_day - p.first_day AS DOUBLE) / $days_per_unit AS recency,
    CAST($calibration_end - p.first_day AS DOUBLE) / $days_per_unit AS T,
    CASE WHEN p.n_days > 1 THEN (p.amount - p.first_amount) / (p.n_days - 1) ELSE 0.0 END
        AS monetary_value,
    CAST(p.n_holdout AS DOUBLE) AS frequency_holdout,
    COALESCE(p.mean_holdout, 0.0) AS monetary_value_holdout,
    CAST($as_of - $calibration_end AS DOUBLE) / $days_per_unit AS duration_holdout
FROM per_customer p
JOIN customers c ON c.customer_key = p.customer_key
ORDER BY c.customer_id
