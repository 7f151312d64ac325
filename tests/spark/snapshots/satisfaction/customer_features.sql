-- Generated from crm_analytics/satisfaction/sql/customer_features.sql by crm_analytics.spark.translate (sqlglot 30.30.0); do not edit.
WITH base AS (
  SELECT
    customers.customer_id AS customer_id
  FROM customers AS customers
  WHERE
    customers.created_at IS NULL
    OR customers.created_at < CAST(:cutoff AS TIMESTAMP_NTZ)
), nps AS (
  SELECT
    survey_responses.customer_id AS customer_id,
    survey_responses.score AS score,
    survey_responses.responded_at AS responded_at,
    ROW_NUMBER() OVER (
      PARTITION BY survey_responses.customer_id
      ORDER BY survey_responses.responded_at DESC NULLS LAST, survey_responses.response_id DESC NULLS LAST
    ) AS recency
  FROM survey_responses AS survey_responses
  WHERE
    survey_responses.item = CAST(:nps_item AS STRING)
    AND survey_responses.responded_at < CAST(:cutoff AS TIMESTAMP_NTZ)
), csat AS (
  SELECT
    answers.customer_id AS customer_id,
    AVG(
      CASE
        WHEN answers.responded_at >= CAST(:cutoff AS TIMESTAMP_NTZ) - INTERVAL '180' DAY
        THEN answers.score
      END
    ) AS csat_mean_180d,
    MAX(CASE WHEN answers.recency = 1 THEN answers.score END) AS csat_latest
  FROM (
    SELECT
      survey_responses.customer_id AS customer_id,
      survey_responses.score AS score,
      survey_responses.responded_at AS responded_at,
      ROW_NUMBER() OVER (
        PARTITION BY survey_responses.customer_id
        ORDER BY survey_responses.responded_at DESC NULLS LAST, survey_responses.response_id DESC NULLS LAST
      ) AS recency
    FROM survey_responses AS survey_responses
    WHERE
      survey_responses.item = CAST(:csat_item AS STRING)
      AND survey_responses.responded_at < CAST(:cutoff AS TIMESTAMP_NTZ)
  ) AS answers
  GROUP BY
    answers.customer_id
), tk AS (
  SELECT
    tickets.customer_id AS customer_id,
    tickets.opened_at AS opened_at,
    tickets.is_complaint AS is_complaint,
    tickets.reopened AS reopened,
    tickets.sla_hours AS sla_hours,
    CASE
      WHEN tickets.resolved_at < CAST(:cutoff AS TIMESTAMP_NTZ)
      THEN tickets.resolved_at
    END AS resolved_at,
    CASE
      WHEN tickets.resolved_at < CAST(:cutoff AS TIMESTAMP_NTZ)
      THEN (
        CAST(TIMESTAMPDIFF(MICROSECOND, tickets.opened_at, tickets.resolved_at) AS DOUBLE) / 1000000
      ) / CAST(3600.0 AS DOUBLE)
    END AS resolution_hours,
    CASE
      WHEN tickets.resolved_at < CAST(:cutoff AS TIMESTAMP_NTZ)
      THEN CAST(BROUND(
        (
          CAST(TIMESTAMPDIFF(MICROSECOND, tickets.opened_at, tickets.resolved_at) AS DOUBLE) / CAST(1000000 AS DOUBLE)
        ),
        0
      ) AS BIGINT)
    END AS resolution_seconds,
    (
      CAST(TIMESTAMPDIFF(MICROSECOND, tickets.opened_at, CAST(:cutoff AS TIMESTAMP_NTZ)) AS DOUBLE) / 1000000
    ) / CAST(3600.0 AS DOUBLE) AS hours_open_at_cutoff
  FROM tickets AS tickets
  WHERE
    tickets.opened_at < CAST(:cutoff AS TIMESTAMP_NTZ)
), tk_flags AS (
  SELECT
    tk.customer_id AS customer_id,
    tk.opened_at AS opened_at,
    tk.is_complaint AS is_complaint,
    tk.reopened AS reopened,
    tk.sla_hours AS sla_hours,
    tk.resolved_at AS resolved_at,
    tk.resolution_hours AS resolution_hours,
    tk.resolution_seconds AS resolution_seconds,
    tk.hours_open_at_cutoff AS hours_open_at_cutoff,
    CASE
      WHEN tk.opened_at >= CAST(:cutoff AS TIMESTAMP_NTZ) - INTERVAL '90' DAY
      THEN 1
      ELSE 0
    END AS opened_90d,
    CASE
      WHEN tk.opened_at >= CAST(:cutoff AS TIMESTAMP_NTZ) - INTERVAL '365' DAY
      THEN 1
      ELSE 0
    END AS opened_365d,
    CASE
      WHEN tk.resolved_at >= CAST(:cutoff AS TIMESTAMP_NTZ) - INTERVAL '90' DAY
      THEN 1
      ELSE 0
    END AS resolved_90d,
    CASE
      WHEN tk.resolved_at >= CAST(:cutoff AS TIMESTAMP_NTZ) - INTERVAL '365' DAY
      THEN 1
      ELSE 0
    END AS resolved_365d,
    CASE
      WHEN tk.resolved_at IS NULL AND tk.hours_open_at_cutoff > tk.sla_hours
      THEN 1
      ELSE 0
    END AS overdue,
    CASE WHEN tk.resolution_hours > tk.sla_hours THEN 1 ELSE 0 END AS resolved_late
  FROM tk AS tk
), tickets_agg AS (
  SELECT
    tk_flags.customer_id AS customer_id,
    SUM(CASE WHEN tk_flags.is_complaint THEN tk_flags.opened_90d ELSE 0 END) AS complaints_90d,
    SUM(CASE WHEN tk_flags.is_complaint THEN tk_flags.opened_365d ELSE 0 END) AS complaints_365d,
    SUM(tk_flags.opened_90d) AS tickets_90d,
    SUM(CASE WHEN tk_flags.resolved_at IS NULL THEN 1 ELSE 0 END) AS open_tickets,
    SUM(tk_flags.overdue + tk_flags.resolved_late * tk_flags.resolved_90d) AS sla_breaches_90d,
    SUM(tk_flags.overdue + tk_flags.resolved_late * tk_flags.resolved_365d) AS sla_breaches_365d,
    AVG(
      CAST(CASE WHEN tk_flags.resolved_365d = 1 THEN tk_flags.resolution_seconds END AS DOUBLE)
    ) / CAST(3600.0 AS DOUBLE) AS mean_resolution_hours_365d,
    SUM(CASE WHEN tk_flags.reopened THEN tk_flags.resolved_365d ELSE 0 END) AS reopened_365d
  FROM tk_flags AS tk_flags
  GROUP BY
    tk_flags.customer_id
)
SELECT
  b.customer_id AS customer_id,
  n.score AS latest_nps,
  CAST(n.responded_at AS DATE) AS latest_nps_date,
  CASE
    WHEN n.score >= 9
    THEN 'promoter'
    WHEN n.score >= 7
    THEN 'passive'
    WHEN NOT n.score IS NULL
    THEN 'detractor'
  END AS nps_class,
  COALESCE(n.score <= 6, FALSE) AS is_detractor,
  c.csat_mean_180d AS csat_mean_180d,
  c.csat_latest AS csat_latest,
  COALESCE(t.complaints_90d, 0) AS complaints_90d,
  COALESCE(t.complaints_365d, 0) AS complaints_365d,
  COALESCE(t.tickets_90d, 0) AS tickets_90d,
  COALESCE(t.open_tickets, 0) AS open_tickets,
  COALESCE(t.sla_breaches_90d, 0) AS sla_breaches_90d,
  COALESCE(t.sla_breaches_365d, 0) AS sla_breaches_365d,
  t.mean_resolution_hours_365d AS mean_resolution_hours_365d,
  COALESCE(t.reopened_365d, 0) AS reopened_365d
FROM base AS b
LEFT JOIN nps AS n
  ON n.customer_id = b.customer_id AND n.recency = 1
LEFT JOIN csat AS c
  ON c.customer_id = b.customer_id
LEFT JOIN tickets_agg AS t
  ON t.customer_id = b.customer_id
ORDER BY
  b.customer_id NULLS LAST
