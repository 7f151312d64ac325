-- @params item:VARCHAR cutoff:TIMESTAMP window_days:INTEGER
-- @grain response_id
-- @engines duckdb spark
-- The service a customer experienced before each answer to a survey item: the features of
-- crm_analytics.satisfaction.service_impact, one row per answer up to a date.
-- Parameters:
--   $item (VARCHAR)          survey item, e.g. 'nps' or 'csat'
--   $cutoff (TIMESTAMP)      exclusive upper bound: the day after as_of at 00:00
--   $window_days (INTEGER)   length of the window [responded_at - window_days, responded_at)
-- Output: response_id, customer_id, responded_at, score, scale_min, scale_max,
--   tickets_resolved (tickets resolved in the window), sla_breaches (of those, resolved
--   more than sla_hours after opening), mean_resolution_hours (NULL without tickets),
--   complaints (complaint tickets opened in the window), last_ticket_breached (1 if the
--   ticket resolved last in the window breached its SLA, else 0), last_resolution_hours
--   (its resolution time; NULL without tickets); ordered by responded_at, response_id
WITH answers AS (
    SELECT
        response_id, customer_id, responded_at, score, scale_min, scale_max,
        responded_at - $window_days * INTERVAL '1' DAY AS window_start
    FROM survey_responses
    WHERE item = $item AND responded_at < $cutoff
),
resolved AS (
    SELECT
        a.response_id, t.ticket_id, t.resolved_at, t.sla_hours,
        EXTRACT(EPOCH FROM (t.resolved_at - t.opened_at)) / 3600.0 AS resolution_hours,
        -- Whole seconds average exactly, whatever order parallel threads add them in.
        CAST(EXTRACT(EPOCH FROM (t.resolved_at - t.opened_at)) AS BIGINT) AS resolution_seconds
    FROM answers AS a
    JOIN tickets AS t ON t.customer_id = a.customer_id
        AND t.resolved_at >= a.window_start AND t.resolved_at < a.responded_at
),
ranked AS (
    SELECT
        *,
        ROW_NUMBER() OVER (
            PARTITION BY response_id ORDER BY resolved_at DESC, ticket_id DESC
        ) AS recency
    FROM resolved
),
per_answer AS (
    SELECT
        response_id,
        count(*) AS tickets_resolved,
        sum(CASE WHEN resolution_hours > sla_hours THEN 1 ELSE 0 END) AS sla_breaches,
        avg(resolution_seconds) / 3600.0 AS mean_resolution_hours,
        max(CASE WHEN recency = 1 AND resolution_hours > sla_hours THEN 1 ELSE 0 END)
            AS last_ticket_breached,
        max(CASE WHEN recency = 1 THEN resolution_hours END) AS last_resolution_hours
    FROM ranked
    GROUP BY response_id
),
complaints AS (
    SELECT a.response_id, count(*) AS complaints
    FROM answers AS a
    JOIN tickets AS t ON t.customer_id = a.customer_id AND t.is_complaint
        AND t.opened_at >= a.window_start AND t.opened_at < a.responded_at
    GROUP BY a.response_id
)
SELECT
    a.response_id, a.customer_id, a.responded_at, a.score, a.scale_min, a.scale_max,
    COALESCE(p.tickets_resolved, 0) AS tickets_resolved,
    COALESCE(p.sla_breaches, 0) AS sla_breaches,
    p.mean_resolution_hours,
    COALESCE(c.complaints, 0) AS complaints,
    COALESCE(p.last_ticket_breached, 0) AS last_ticket_breached,
    p.last_resolution_hours
FROM answers AS a
LEFT JOIN per_answer AS p ON p.response_id = a.response_id
LEFT JOIN complaints AS c ON c.response_id = a.response_id
ORDER BY a.responded_at, a.response_id
