-- Generated from crm_analytics/satisfaction/sql/service_experience.sql by crm_analytics.spark.translate (sqlglot 30.30.0); do not edit.
WITH answers AS (
  SELECT
    survey_responses.response_id AS response_id,
    survey_responses.customer_id AS customer_id,
    survey_responses.responded_at AS responded_at,
    survey_responses.score AS score,
    survey_responses.scale_min AS scale_min,
    survey_responses.scale_max AS scale_max,
    survey_responses.responded_at - CAST(:window_days AS INT) * INTERVAL '1' DAY AS window_start
  FROM survey_responses AS survey_responses
  WHERE
    survey_responses.item = CAST(:item AS STRING)
    AND survey_responses.responded_at < CAST(:cutoff AS TIMESTAMP_NTZ)
), resolved AS (
  SELECT
    a.response_id AS response_id,
    t.ticket_id AS ticket_id,
    t.resolved_at AS resolved_at,
    t.sla_hours AS sla_hours,
    (
      CAST(TIMESTAMPDIFF(MICROSECOND, t.opened_at, t.resolved_at) AS DOUBLE) / 1000000
    ) / CAST(3600.0 AS DOUBLE) AS resolution_hours,
    CAST(BROUND(
      (
        CAST(TIMESTAMPDIFF(MICROSECOND, t.opened_at, t.resolved_at) AS DOUBLE) / CAST(1000000 AS DOUBLE)
      ),
      0
    ) AS BIGINT) AS resolution_seconds
  FROM answers AS a
  JOIN tickets AS t
    ON t.customer_id = a.customer_id
    AND t.resolved_at >= a.window_start
    AND t.resolved_at < a.responded_at
), ranked AS (
  SELECT
    resolved.response_id AS response_id,
    resolved.ticket_id AS ticket_id,
    resolved.resolved_at AS resolved_at,
    resolved.sla_hours AS sla_hours,
    resolved.resolution_hours AS resolution_hours,
    resolved.resolution_seconds AS resolution_seconds,
    ROW_NUMBER() OVER (
      PARTITION BY resolved.response_id
      ORDER BY resolved.resolved_at DESC NULLS LAST, resolved.ticket_id DESC NULLS LAST
    ) AS recency
  FROM resolved AS resolved
), per_answer AS (
  SELECT
    ranked.response_id AS response_id,
    COUNT(*) AS tickets_resolved,
    SUM(CASE WHEN ranked.resolution_hours > ranked.sla_hours THEN 1 ELSE 0 END) AS sla_breaches,
    AVG(CAST(ranked.resolution_seconds AS DOUBLE)) / CAST(3600.0 AS DOUBLE) AS mean_resolution_hours,
    MAX(
      CASE
        WHEN ranked.recency = 1 AND ranked.resolution_hours > ranked.sla_hours
        THEN 1
        ELSE 0
      END
    ) AS last_ticket_breached,
    MAX(CASE WHEN ranked.recency = 1 THEN ranked.resolution_hours END) AS last_resolution_hours
  FROM ranked AS ranked
  GROUP BY
    ranked.response_id
), complaints AS (
  SELECT
    a.response_id AS response_id,
    COUNT(*) AS complaints
  FROM answers AS a
  JOIN tickets AS t
    ON t.customer_id = a.customer_id
    AND t.is_complaint
    AND t.opened_at >= a.window_start
    AND t.opened_at < a.responded_at
  GROUP BY
    a.response_id
)
SELECT
  a.response_id AS response_id,
  a.customer_id AS customer_id,
  a.responded_at AS responded_at,
  a.score AS score,
  a.scale_min AS scale_min,
  a.scale_max AS scale_max,
  COALESCE(p.tickets_resolved, 0) AS tickets_resolved,
  COALESCE(p.sla_breaches, 0) AS sla_breaches,
  p.mean_resolution_hours AS mean_resolution_hours,
  COALESCE(c.complaints, 0) AS complaints,
  COALESCE(p.last_ticket_breached, 0) AS last_ticket_breached,
  p.last_resolution_hours AS last_resolution_hours
FROM answers AS a
LEFT JOIN per_answer AS p
  ON p.response_id = a.response_id
LEFT JOIN complaints AS c
  ON c.response_id = a.response_id
ORDER BY
  a.responded_at NULLS LAST,
  a.response_id NULLS LAST
