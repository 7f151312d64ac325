-- Daily new customers and repeat purchase occasions of a cohort, for tracking plots
-- (cumulative repeat transactions, actual vs model).
--
-- Purchase occasions as in clv/sql/rfm_summary.sql: customer-days with at least one sale
-- (a row with amount >= 0).
--
-- Parameters:
--   $cutoff      TIMESTAMP  as_of + 1 day at 00:00; rows with timestamp < $cutoff count
--   $cohort_end  DATE       the cohort: customers whose first purchase day is <= $cohort_end
-- Output, one row per day with activity, ordered by day:
--   day (DATE), new_customers (first purchases that day), repeat_purchases (repeat
--   purchase occasions of the cohort that day)
WITH purchase_days AS (
    SELECT customer_id, CAST(transaction_date AS DATE) AS day
    FROM transactions
    WHERE transaction_date < $cutoff
    GROUP BY customer_id, CAST(transaction_date AS DATE)
    HAVING MAX(amount) >= 0
),
cohort AS (
    SELECT customer_id, MIN(day) AS first_day
    FROM purchase_days
    GROUP BY customer_id
    HAVING MIN(day) <= $cohort_end
)
SELECT
    d.day,
    SUM(CASE WHEN d.day = c.first_day THEN 1 ELSE 0 END) AS new_customers,
    SUM(CASE WHEN d.day > c.first_day THEN 1 ELSE 0 END) AS repeat_purchases
FROM purchase_days AS d
JOIN cohort AS c ON c.customer_id = d.customer_id
GROUP BY d.day
ORDER BY d.day
