-- @params cutoff:TIMESTAMP cohort_end:DATE
-- @grain day
-- @engines duckdb spark
-- Daily new customers and repeat purchase occasions of a cohort, for tracking plots
-- (cumulative repeat transactions, actual vs model).
--
-- Purchase occasions as in clv/sql/rfm_summary.sql: customer-days with at least one sale
-- (a row with amount >= 0), grouped on the integer customer_key.
--
-- Parameters:
--   $cutoff      TIMESTAMP  as_of + 1 day at 00:00; rows with timestamp < $cutoff count
--   $cohort_end  DATE       the cohort: customers whose first purchase day is <= $cohort_end
-- Output, one row per day with activity, ordered by day:
--   day (DATE), new_customers (first purchases that day), repeat_purchases (repeat
--   purchase occasions of the cohort that day)
WITH purchase_days AS (
    SELECT customer_key, CAST(transaction_date AS DATE) AS day
    FROM transactions
    WHERE transaction_date < $cutoff
    GROUP BY customer_key, CAST(transaction_date AS DATE)
    HAVING MAX(amount) >= 0
),
cohort AS (
    SELECT customer_key, MIN(day) AS first_day
    FROM purchase_days
    GROUP BY customer_key
    HAVING MIN(day) <= $cohort_end
)
SELECT
    d.day,
    SUM(CASE WHEN d.day = c.first_day THEN 1 ELSE 0 END) AS new_customers,
    SUM(CASE WHEN d.day > c.first_day THEN 1 ELSE 0 END) AS repeat_purchases
FROM purchase_days AS d
JOIN cohort AS c ON c.customer_key = d.customer_key
GROUP BY d.day
ORDER BY d.day
