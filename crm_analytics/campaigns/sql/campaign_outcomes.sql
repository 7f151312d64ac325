-- @params campaign:VARCHAR window_days:INTEGER as_of_end:TIMESTAMP
-- @grain customer_id
-- @engines duckdb
-- One row per customer the campaign reached or held out (contact_history), with
-- what they bought in the window_days after their first export of the campaign
-- and in the window_days before it (crm_analytics.campaigns.results).
-- A customer's arm is that of its first row. Transactions after $as_of_end are
-- never read (no look-ahead); a window not yet over at $as_of_end is not mature.
-- Parameters: $campaign; $window_days (days); $as_of_end (exclusive end of the as-of day)
-- Output: customer_id, is_control, exported_at, mature (BOOLEAN), revenue (DOUBLE, net of
--         refunds), purchases (window after), purchases_before (window before)
WITH firsts AS (
    SELECT customer_id, min(exported_at) AS exported_at,
           arg_min(is_control, exported_at) AS is_control
    FROM contact_history
    WHERE campaign = $campaign
    GROUP BY customer_id
), w AS (
    SELECT customer_id, is_control, exported_at,
           exported_at + to_days(CAST($window_days AS INTEGER)) AS window_end,
           exported_at - to_days(CAST($window_days AS INTEGER)) AS window_start
    FROM firsts
)
SELECT w.customer_id, w.is_control, w.exported_at,
       w.window_end <= $as_of_end AS mature,
       CAST(coalesce(sum(t.amount) FILTER (WHERE t.transaction_date > w.exported_at), 0)
            AS DOUBLE) AS revenue,
       count(t.transaction_id) FILTER (WHERE t.transaction_date > w.exported_at
                                       AND t.amount > 0) AS purchases,
       count(t.transaction_id) FILTER (WHERE t.transaction_date <= w.exported_at
                                       AND t.amount > 0) AS purchases_before
FROM w
LEFT JOIN transactions t
    ON t.customer_id = w.customer_id
   AND t.transaction_date > w.window_start
   AND t.transaction_date <= w.window_end
   AND t.transaction_date < $as_of_end
GROUP BY w.customer_id, w.is_control, w.exported_at, w.window_end
ORDER BY w.customer_id
