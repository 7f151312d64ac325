-- @params cutoff:TIMESTAMP nps_item:VARCHAR csat_item:VARCHAR
-- @grain customer_id
-- @engines duckdb spark
-- Satisfaction features per customer as of a date (crm_analytics.satisfaction.customer_features
-- documents each column). Windows of N days are [cutoff - N days, cutoff): the N days
-- ending with as_of.
-- Parameters:
--   $cutoff (TIMESTAMP)      exclusive upper bound: the day after as_of at 00:00
--   $nps_item (VARCHAR)      item of the 0-10 recommendation question, e.g. 'nps'
--   $csat_item (VARCHAR)     item of the CSAT question, e.g. 'csat'
-- Output: customer_id, latest_nps, latest_nps_date, nps_class, is_detractor, csat_mean_180d,
--   csat_latest, complaints_90d, complaints_365d, tickets_90d, open_tickets,
--   sla_breaches_90d, sla_breaches_365d, mean_resolution_hours_365d, reopened_365d;
--   one row per customer created before the cutoff (or without created_at)
WITH base AS (
    SELECT customer_id
    FROM customers
    WHERE created_at IS NULL OR created_at < $cutoff
),
nps AS (
    SELECT
        customer_id, score, responded_at,
        ROW_NUMBER() OVER (
            PARTITION BY customer_id ORDER BY responded_at DESC, response_id DESC
        ) AS recency
    FROM survey_responses
    WHERE item = $nps_item AND responded_at < $cutoff
),
csat AS (
    SELECT
        customer_id,
        avg(CASE WHEN responded_at >= $cutoff - INTERVAL '180' DAY THEN score END)
            AS csat_mean_180d,
        max(CASE WHEN recency = 1 THEN score END) AS csat_latest
    FROM (
        SELECT
            customer_id, score, responded_at,
            ROW_NUMBER() OVER (
                PARTITION BY customer_id ORDER BY responded_at DESC, response_id DESC
            ) AS recency
        FROM survey_responses
        WHERE item = $csat_item AND responded_at < $cutoff
    ) AS answers
    GROUP BY customer_id
),
tk AS (
    SELECT
        customer_id, opened_at, is_complaint, reopened, sla_hours,
        -- Nothing after the cutoff is known: a later resolution is NULL here.
        CASE WHEN resolved_at < $cutoff THEN resolved_at END AS resolved_at,
        CASE WHEN resolved_at < $cutoff
            THEN EXTRACT(EPOCH FROM (resolved_at - opened_at)) / 3600.0
        END AS resolution_hours,
        -- Whole seconds: their average is exact, so features do not depend on the
        -- order in which parallel threads add them up.
        CASE WHEN resolved_at < $cutoff
            THEN CAST(EXTRACT(EPOCH FROM (resolved_at - opened_at)) AS BIGINT)
        END AS resolution_seconds,
        EXTRACT(EPOCH FROM ($cutoff - opened_at)) / 3600.0 AS hours_open_at_cutoff
    FROM tickets
    WHERE opened_at < $cutoff
),
tk_flags AS (
    SELECT
        *,
        CASE WHEN opened_at >= $cutoff - INTERVAL '90' DAY THEN 1 ELSE 0 END AS opened_90d,
        CASE WHEN opened_at >= $cutoff - INTERVAL '365' DAY THEN 1 ELSE 0 END AS opened_365d,
        CASE WHEN resolved_at >= $cutoff - INTERVAL '90' DAY THEN 1 ELSE 0 END AS resolved_90d,
        CASE WHEN resolved_at >= $cutoff - INTERVAL '365' DAY THEN 1 ELSE 0 END
            AS resolved_365d,
        -- A breach is known when a late ticket is resolved, or while it is open past its SLA.
        CASE WHEN resolved_at IS NULL AND hours_open_at_cutoff > sla_hours THEN 1 ELSE 0 END
            AS overdue,
        CASE WHEN resolution_hours > sla_hours THEN 1 ELSE 0 END AS resolved_late
    FROM tk
),
tickets_agg AS (
    SELECT
        customer_id,
        sum(CASE WHEN is_complaint THEN opened_90d ELSE 0 END) AS complaints_90d,
        sum(CASE WHEN is_complaint THEN opened_365d ELSE 0 END) AS complaints_365d,
        sum(opened_90d) AS tickets_90d,
        sum(CASE WHEN resolved_at IS NULL THEN 1 ELSE 0 END) AS open_tickets,
        sum(overdue + resolved_late * resolved_90d) AS sla_breaches_90d,
        sum(overdue + resolved_late * resolved_365d) AS sla_breaches_365d,
        avg(CASE WHEN resolved_365d = 1 THEN resolution_seconds END) / 3600.0
            AS mean_resolution_hours_365d,
        sum(CASE WHEN reopened THEN resolved_365d ELSE 0 END) AS reopened_365d
    FROM tk_flags
    GROUP BY customer_id
)
SELECT
    b.customer_id,
    n.score AS latest_nps,
    CAST(n.responded_at AS DATE) AS latest_nps_date,
    CASE
        WHEN n.score >= 9 THEN 'promoter'
        WHEN n.score >= 7 THEN 'passive'
        WHEN n.score IS NOT NULL THEN 'detractor'
    END AS nps_class,
    COALESCE(n.score <= 6, FALSE) AS is_detractor,
    c.csat_mean_180d,
    c.csat_latest,
    COALESCE(t.complaints_90d, 0) AS complaints_90d,
    COALESCE(t.complaints_365d, 0) AS complaints_365d,
    COALESCE(t.tickets_90d, 0) AS tickets_90d,
    COALESCE(t.open_tickets, 0) AS open_tickets,
    COALESCE(t.sla_breaches_90d, 0) AS sla_breaches_90d,
    COALESCE(t.sla_breaches_365d, 0) AS sla_breaches_365d,
    t.mean_resolution_hours_365d,
    COALESCE(t.reopened_365d, 0) AS reopened_365d
FROM base AS b
LEFT JOIN nps AS n ON n.customer_id = b.customer_id AND n.recency = 1
LEFT JOIN csat AS c ON c.customer_id = b.customer_id
LEFT JOIN tickets_agg AS t ON t.customer_id = b.customer_id
ORDER BY b.customer_id
