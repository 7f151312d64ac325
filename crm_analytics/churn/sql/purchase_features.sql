-- @params as_of:DATE cutoff:TIMESTAMP active_from:DATE d30:DATE d90:DATE d180:DATE d365:DATE prev90_from:DATE prev90_to:DATE channel_1:VARCHAR channel_2:VARCHAR channel_3:VARCHAR
-- @grain customer_id
-- @engines duckdb spark
-- Purchase-behaviour features of the customers active at as_of, from transactions before $cutoff.
-- A purchase is a transaction with amount >= 0; purchases on the same day count as one purchase
-- day (as in BTYD models); negative amounts are refunds. Day differences use DATE - DATE
-- (whole days, as in PostgreSQL and DuckDB). Windows "_Nd" are the N days ending on as_of.
-- Parameters: $as_of (DATE), $cutoff (TIMESTAMP, as_of + 1 day at 00:00),
--             $active_from (DATE, as_of - active_days + 1),
--             $d30, $d90, $d180, $d365 (DATE, first day of each window),
--             $prev90_from, $prev90_to (DATE, the 90 days before the last 90: as_of-179..as_of-90),
--             $channel_1, $channel_2, $channel_3 (VARCHAR or NULL: channels whose share is reported)
-- Output: customer_id, recency_days, tenure_days, purchases_total, purchases_30d, purchases_90d,
--         purchases_180d, purchases_365d, purchases_prev_90d, spend_total, spend_30d, spend_90d,
--         spend_180d, spend_365d, spend_prev_90d, spend_per_purchase, spend_trend, frequency_trend,
--         gap_median_days, gap_mean_days, overdue_ratio, categories_365d, categories_total,
--         refunds_365d, refund_amount_365d, top_channel, top_channel_share,
--         channel_share_1, channel_share_2, channel_share_3
WITH tx AS (
    SELECT customer_id, CAST(transaction_date AS DATE) AS day, amount, product_category, channel
    FROM transactions
    WHERE transaction_date < $cutoff
),
active AS (
    SELECT customer_id FROM tx
    WHERE amount >= 0 AND day >= $active_from
    GROUP BY customer_id
),
atx AS (
    SELECT tx.* FROM tx JOIN active ON active.customer_id = tx.customer_id
),
days AS (
    SELECT customer_id, day, SUM(amount) AS spend
    FROM atx WHERE amount >= 0
    GROUP BY customer_id, day
),
gaps AS (
    SELECT customer_id, day, spend,
           day - LAG(day) OVER (PARTITION BY customer_id ORDER BY day) AS gap_days
    FROM days
),
per_day AS (
    SELECT
        customer_id,
        MIN(day) AS first_day,
        MAX(day) AS last_day,
        COUNT(*) AS purchases_total,
        SUM(CASE WHEN day >= $d30 THEN 1 ELSE 0 END) AS purchases_30d,
        SUM(CASE WHEN day >= $d90 THEN 1 ELSE 0 END) AS purchases_90d,
        SUM(CASE WHEN day >= $d180 THEN 1 ELSE 0 END) AS purchases_180d,
        SUM(CASE WHEN day >= $d365 THEN 1 ELSE 0 END) AS purchases_365d,
        SUM(CASE WHEN day BETWEEN $prev90_from AND $prev90_to THEN 1 ELSE 0 END)
            AS purchases_prev_90d,
        SUM(spend) AS spend_total,
        SUM(CASE WHEN day >= $d30 THEN spend ELSE 0 END) AS spend_30d,
        SUM(CASE WHEN day >= $d90 THEN spend ELSE 0 END) AS spend_90d,
        SUM(CASE WHEN day >= $d180 THEN spend ELSE 0 END) AS spend_180d,
        SUM(CASE WHEN day >= $d365 THEN spend ELSE 0 END) AS spend_365d,
        SUM(CASE WHEN day BETWEEN $prev90_from AND $prev90_to THEN spend ELSE 0 END)
            AS spend_prev_90d,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY gap_days) AS gap_median_days,
        AVG(gap_days) AS gap_mean_days
    FROM gaps
    GROUP BY customer_id
),
per_line AS (
    SELECT
        customer_id,
        COUNT(DISTINCT CASE WHEN amount >= 0 AND day >= $d365 THEN product_category END)
            AS categories_365d,
        COUNT(DISTINCT CASE WHEN amount >= 0 THEN product_category END) AS categories_total,
        SUM(CASE WHEN amount < 0 AND day >= $d365 THEN 1 ELSE 0 END) AS refunds_365d,
        SUM(CASE WHEN amount < 0 AND day >= $d365 THEN -amount ELSE 0 END) AS refund_amount_365d,
        SUM(CASE WHEN amount >= 0 AND channel IS NOT NULL THEN 1 ELSE 0 END) AS channel_lines,
        SUM(CASE WHEN amount >= 0 AND channel = $channel_1 THEN 1 ELSE 0 END) AS channel_lines_1,
        SUM(CASE WHEN amount >= 0 AND channel = $channel_2 THEN 1 ELSE 0 END) AS channel_lines_2,
        SUM(CASE WHEN amount >= 0 AND channel = $channel_3 THEN 1 ELSE 0 END) AS channel_lines_3
    FROM atx
    GROUP BY customer_id
),
channel_counts AS (
    SELECT customer_id, channel, COUNT(*) AS n_lines
    FROM atx
    WHERE amount >= 0 AND channel IS NOT NULL
    GROUP BY customer_id, channel
),
top_channel AS (
    SELECT customer_id, channel, n_lines
    FROM (
        SELECT customer_id, channel, n_lines,
               ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY n_lines DESC, channel) AS rank_
        FROM channel_counts
    ) AS ranked
    WHERE rank_ = 1
)
SELECT
    d.customer_id,
    $as_of - d.last_day AS recency_days,
    $as_of - d.first_day AS tenure_days,
    d.purchases_total, d.purchases_30d, d.purchases_90d, d.purchases_180d, d.purchases_365d,
    d.purchases_prev_90d,
    d.spend_total, d.spend_30d, d.spend_90d, d.spend_180d, d.spend_365d, d.spend_prev_90d,
    d.spend_total / d.purchases_total AS spend_per_purchase,
    -- Symmetric change in [-1, 1]: -1 = stopped buying, 0 = flat, NULL = nothing in either window.
    CASE WHEN d.spend_90d + d.spend_prev_90d > 0
         THEN (d.spend_90d - d.spend_prev_90d) / (d.spend_90d + d.spend_prev_90d) END AS spend_trend,
    CASE WHEN d.purchases_90d + d.purchases_prev_90d > 0
         THEN CAST(d.purchases_90d - d.purchases_prev_90d AS DOUBLE)
              / (d.purchases_90d + d.purchases_prev_90d) END AS frequency_trend,
    d.gap_median_days, d.gap_mean_days,
    CASE WHEN d.gap_median_days > 0
         THEN ($as_of - d.last_day) / d.gap_median_days END AS overdue_ratio,
    l.categories_365d, l.categories_total, l.refunds_365d, l.refund_amount_365d,
    t.channel AS top_channel,
    CAST(t.n_lines AS DOUBLE) / NULLIF(l.channel_lines, 0) AS top_channel_share,
    CAST(l.channel_lines_1 AS DOUBLE) / NULLIF(l.channel_lines, 0) AS channel_share_1,
    CAST(l.channel_lines_2 AS DOUBLE) / NULLIF(l.channel_lines, 0) AS channel_share_2,
    CAST(l.channel_lines_3 AS DOUBLE) / NULLIF(l.channel_lines, 0) AS channel_share_3
FROM per_day AS d
JOIN per_line AS l ON l.customer_id = d.customer_id
LEFT JOIN top_channel AS t ON t.customer_id = d.customer_id
ORDER BY d.customer_id
