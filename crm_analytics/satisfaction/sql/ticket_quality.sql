-- @params cutoff:TIMESTAMP period:VARCHAR by_1:VARCHAR by_2:VARCHAR by_3:VARCHAR large_employees:BIGINT large_revenue:DOUBLE
-- @grain group_1 group_2 group_3 period_start
-- @engines duckdb spark
-- Service quality of tickets per cell (up to three dimensions) and period, as of a date
-- (crm_analytics.satisfaction.service_quality documents the definitions).
-- Parameters:
--   $cutoff (TIMESTAMP)          exclusive upper bound: the day after as_of at 00:00
--   $period (VARCHAR or NULL)    'month', 'quarter' or 'year' of opened_at; NULL = one
--                                period ending at the cutoff
--   $by_1, $by_2, $by_3 (VARCHAR or NULL)  dimension of each cell column: region,
--       customer_type, industry, size_band, country (the customer's) or priority,
--       channel, category (the ticket's)
--   $large_employees (BIGINT), $large_revenue (DOUBLE)  size-band thresholds
-- Output: group_1, group_2, group_3, period_start, n_tickets, n_resolved, n_open,
--   n_sla_met, n_sla_breached, n_sla_pending, n_no_sla, n_responded,
--   first_response_p50_hours, first_response_p90_hours, resolution_p50_hours,
--   resolution_p90_hours, n_reopened, n_complaints, backlog, n_customers
-- Ticket measures belong to the period the ticket was opened in; backlog and n_customers
-- are counted at the period's end (or the cutoff, if earlier).
WITH attrs AS (
    SELECT
        customer_id, region, customer_type, industry, country, created_at,
        -- @include store/sql/size_band.sql
        AS size_band
    FROM customers
),
tk AS (
    SELECT
        t.opened_at, t.resolved_at, t.sla_hours, t.is_complaint, t.reopened,
        CASE $by_1 WHEN 'region' THEN a.region WHEN 'customer_type' THEN a.customer_type
            WHEN 'industry' THEN a.industry WHEN 'size_band' THEN a.size_band
            WHEN 'country' THEN a.country WHEN 'priority' THEN t.priority
            WHEN 'channel' THEN t.channel WHEN 'category' THEN t.category END AS group_1,
        CASE $by_2 WHEN 'region' THEN a.region WHEN 'customer_type' THEN a.customer_type
            WHEN 'industry' THEN a.industry WHEN 'size_band' THEN a.size_band
            WHEN 'country' THEN a.country WHEN 'priority' THEN t.priority
            WHEN 'channel' THEN t.channel WHEN 'category' THEN t.category END AS group_2,
        CASE $by_3 WHEN 'region' THEN a.region WHEN 'customer_type' THEN a.customer_type
            WHEN 'industry' THEN a.industry WHEN 'size_band' THEN a.size_band
            WHEN 'country' THEN a.country WHEN 'priority' THEN t.priority
            WHEN 'channel' THEN t.channel WHEN 'category' THEN t.category END AS group_3,
        date_trunc($period, t.opened_at) AS period_start,
        -- Nothing after the cutoff is known: a later response or resolution is NULL here.
        CASE WHEN t.first_response_at < $cutoff
            THEN EXTRACT(EPOCH FROM (t.first_response_at - t.opened_at)) / 3600.0
        END AS first_response_hours,
        CASE WHEN t.resolved_at < $cutoff
            THEN EXTRACT(EPOCH FROM (t.resolved_at - t.opened_at)) / 3600.0
        END AS resolution_hours,
        EXTRACT(EPOCH FROM ($cutoff - t.opened_at)) / 3600.0 AS hours_open_at_cutoff
    FROM tickets AS t
    LEFT JOIN attrs AS a ON a.customer_id = t.customer_id
    WHERE t.opened_at < $cutoff
),
status AS (
    SELECT
        *,
        CASE
            WHEN sla_hours IS NULL THEN 'no_sla'
            WHEN resolution_hours IS NOT NULL AND resolution_hours <= sla_hours THEN 'met'
            WHEN resolution_hours IS NOT NULL THEN 'breached'
            WHEN hours_open_at_cutoff > sla_hours THEN 'breached'
            ELSE 'pending'
        END AS sla_status
    FROM tk
),
volume AS (
    SELECT
        group_1, group_2, group_3, period_start,
        count(*) AS n_tickets,
        count(resolution_hours) AS n_resolved,
        count(*) - count(resolution_hours) AS n_open,
        sum(CASE WHEN sla_status = 'met' THEN 1 ELSE 0 END) AS n_sla_met,
        sum(CASE WHEN sla_status = 'breached' THEN 1 ELSE 0 END) AS n_sla_breached,
        sum(CASE WHEN sla_status = 'pending' THEN 1 ELSE 0 END) AS n_sla_pending,
        sum(CASE WHEN sla_status = 'no_sla' THEN 1 ELSE 0 END) AS n_no_sla,
        count(first_response_hours) AS n_responded,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY first_response_hours)
            AS first_response_p50_hours,
        percentile_cont(0.9) WITHIN GROUP (ORDER BY first_response_hours)
            AS first_response_p90_hours,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY resolution_hours) AS resolution_p50_hours,
        percentile_cont(0.9) WITHIN GROUP (ORDER BY resolution_hours) AS resolution_p90_hours,
        sum(CASE WHEN resolution_hours IS NOT NULL AND reopened THEN 1 ELSE 0 END) AS n_reopened,
        sum(CASE WHEN is_complaint THEN 1 ELSE 0 END) AS n_complaints
    FROM status
    GROUP BY group_1, group_2, group_3, period_start
),
calendar AS (
    SELECT
        period_start,
        CASE WHEN period_end IS NULL OR period_end > $cutoff THEN $cutoff ELSE period_end END
            AS period_end
    FROM (
        SELECT DISTINCT
            period_start,
            CASE $period
                WHEN 'month' THEN period_start + INTERVAL '1' MONTH
                WHEN 'quarter' THEN period_start + INTERVAL '3' MONTH
                WHEN 'year' THEN period_start + INTERVAL '1' YEAR
            END AS period_end
        FROM tk
    ) AS periods
),
backlog AS (
    SELECT tk.group_1, tk.group_2, tk.group_3, c.period_start, count(*) AS backlog
    FROM calendar AS c
    JOIN tk ON tk.opened_at < c.period_end
        AND (tk.resolved_at IS NULL OR tk.resolved_at >= c.period_end)
    GROUP BY tk.group_1, tk.group_2, tk.group_3, c.period_start
),
customers_on_record AS (
    -- Ticket dimensions do not split customers: their slots stay NULL here.
    SELECT period_start, group_1, group_2, group_3, count(*) AS n_customers
    FROM (
        SELECT
            c.period_start,
            CASE $by_1 WHEN 'region' THEN a.region WHEN 'customer_type' THEN a.customer_type
                WHEN 'industry' THEN a.industry WHEN 'size_band' THEN a.size_band
                WHEN 'country' THEN a.country END AS group_1,
            CASE $by_2 WHEN 'region' THEN a.region WHEN 'customer_type' THEN a.customer_type
                WHEN 'industry' THEN a.industry WHEN 'size_band' THEN a.size_band
                WHEN 'country' THEN a.country END AS group_2,
            CASE $by_3 WHEN 'region' THEN a.region WHEN 'customer_type' THEN a.customer_type
                WHEN 'industry' THEN a.industry WHEN 'size_band' THEN a.size_band
                WHEN 'country' THEN a.country END AS group_3
        FROM calendar AS c
        JOIN attrs AS a ON a.created_at IS NULL OR a.created_at < c.period_end
    ) AS on_record
    GROUP BY period_start, group_1, group_2, group_3
),
cells AS (
    SELECT group_1, group_2, group_3, period_start FROM volume
    UNION
    SELECT group_1, group_2, group_3, period_start FROM backlog
)
SELECT
    cells.group_1, cells.group_2, cells.group_3, cells.period_start,
    COALESCE(v.n_tickets, 0) AS n_tickets,
    COALESCE(v.n_resolved, 0) AS n_resolved,
    COALESCE(v.n_open, 0) AS n_open,
    COALESCE(v.n_sla_met, 0) AS n_sla_met,
    COALESCE(v.n_sla_breached, 0) AS n_sla_breached,
    COALESCE(v.n_sla_pending, 0) AS n_sla_pending,
    COALESCE(v.n_no_sla, 0) AS n_no_sla,
    COALESCE(v.n_responded, 0) AS n_responded,
    v.first_response_p50_hours, v.first_response_p90_hours,
    v.resolution_p50_hours, v.resolution_p90_hours,
    COALESCE(v.n_reopened, 0) AS n_reopened,
    COALESCE(v.n_complaints, 0) AS n_complaints,
    COALESCE(b.backlog, 0) AS backlog,
    COALESCE(cr.n_customers, 0) AS n_customers
FROM cells
LEFT JOIN volume AS v
    ON v.group_1 IS NOT DISTINCT FROM cells.group_1
    AND v.group_2 IS NOT DISTINCT FROM cells.group_2
    AND v.group_3 IS NOT DISTINCT FROM cells.group_3
    AND v.period_start IS NOT DISTINCT FROM cells.period_start
LEFT JOIN backlog AS b
    ON b.group_1 IS NOT DISTINCT FROM cells.group_1
    AND b.group_2 IS NOT DISTINCT FROM cells.group_2
    AND b.group_3 IS NOT DISTINCT FROM cells.group_3
    AND b.period_start IS NOT DISTINCT FROM cells.period_start
LEFT JOIN customers_on_record AS cr
    ON cr.period_start IS NOT DISTINCT FROM cells.period_start
    AND ($by_1 IN ('priority', 'channel', 'category')
         OR cr.group_1 IS NOT DISTINCT FROM cells.group_1)
    AND ($by_2 IN ('priority', 'channel', 'category')
         OR cr.group_2 IS NOT DISTINCT FROM cells.group_2)
    AND ($by_3 IN ('priority', 'channel', 'category')
         OR cr.group_3 IS NOT DISTINCT FROM cells.group_3)
ORDER BY cells.group_1, cells.group_2, cells.group_3, cells.period_start
