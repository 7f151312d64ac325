-- Generated from crm_analytics/satisfaction/sql/ticket_quality.sql by crm_analytics.spark.translate (sqlglot 30.30.0); do not edit.
WITH attrs AS (
  SELECT
    customers.customer_id AS customer_id,
    customers.region AS region,
    customers.customer_type AS customer_type,
    customers.industry AS industry,
    customers.country AS country,
    customers.created_at AS created_at,
    CASE
      WHEN customers.customer_type = 'consumer'
      THEN 'consumer'
      WHEN customers.employees IS NULL AND customers.annual_revenue IS NULL
      THEN 'unknown'
      WHEN customers.employees >= CAST(:large_employees AS BIGINT)
      OR customers.annual_revenue >= CAST(:large_revenue AS DOUBLE)
      THEN 'large'
      ELSE 'small_medium'
    END AS size_band
  FROM customers AS customers
), tk AS (
  SELECT
    t.opened_at AS opened_at,
    t.resolved_at AS resolved_at,
    t.sla_hours AS sla_hours,
    t.is_complaint AS is_complaint,
    t.reopened AS reopened,
    CASE CAST(:by_1 AS STRING)
      WHEN 'region'
      THEN a.region
      WHEN 'customer_type'
      THEN a.customer_type
      WHEN 'industry'
      THEN a.industry
      WHEN 'size_band'
      THEN a.size_band
      WHEN 'country'
      THEN a.country
      WHEN 'priority'
      THEN t.priority
      WHEN 'channel'
      THEN t.channel
      WHEN 'category'
      THEN t.category
    END AS group_1,
    CASE CAST(:by_2 AS STRING)
      WHEN 'region'
      THEN a.region
      WHEN 'customer_type'
      THEN a.customer_type
      WHEN 'industry'
      THEN a.industry
      WHEN 'size_band'
      THEN a.size_band
      WHEN 'country'
      THEN a.country
      WHEN 'priority'
      THEN t.priority
      WHEN 'channel'
      THEN t.channel
      WHEN 'category'
      THEN t.category
    END AS group_2,
    CASE CAST(:by_3 AS STRING)
      WHEN 'region'
      THEN a.region
      WHEN 'customer_type'
      THEN a.customer_type
      WHEN 'industry'
      THEN a.industry
      WHEN 'size_band'
      THEN a.size_band
      WHEN 'country'
      THEN a.country
      WHEN 'priority'
      THEN t.priority
      WHEN 'channel'
      THEN t.channel
      WHEN 'category'
      THEN t.category
    END AS group_3,
    CAST(DATE_TRUNC(CAST(:period AS STRING), t.opened_at) AS TIMESTAMP_NTZ) AS period_start,
    CASE
      WHEN t.first_response_at < CAST(:cutoff AS TIMESTAMP_NTZ)
      THEN (
        CAST(TIMESTAMPDIFF(MICROSECOND, t.opened_at, t.first_response_at) AS DOUBLE) / 1000000
      ) / CAST(3600.0 AS DOUBLE)
    END AS first_response_hours,
    CASE
      WHEN t.resolved_at < CAST(:cutoff AS TIMESTAMP_NTZ)
      THEN (
        CAST(TIMESTAMPDIFF(MICROSECOND, t.opened_at, t.resolved_at) AS DOUBLE) / 1000000
      ) / CAST(3600.0 AS DOUBLE)
    END AS resolution_hours,
    (
      CAST(TIMESTAMPDIFF(MICROSECOND, t.opened_at, CAST(:cutoff AS TIMESTAMP_NTZ)) AS DOUBLE) / 1000000
    ) / CAST(3600.0 AS DOUBLE) AS hours_open_at_cutoff
  FROM tickets AS t
  LEFT JOIN attrs AS a
    ON a.customer_id = t.customer_id
  WHERE
    t.opened_at < CAST(:cutoff AS TIMESTAMP_NTZ)
), status AS (
  SELECT
    tk.opened_at AS opened_at,
    tk.resolved_at AS resolved_at,
    tk.sla_hours AS sla_hours,
    tk.is_complaint AS is_complaint,
    tk.reopened AS reopened,
    tk.group_1 AS group_1,
    tk.group_2 AS group_2,
    tk.group_3 AS group_3,
    tk.period_start AS period_start,
    tk.first_response_hours AS first_response_hours,
    tk.resolution_hours AS resolution_hours,
    tk.hours_open_at_cutoff AS hours_open_at_cutoff,
    CASE
      WHEN tk.sla_hours IS NULL
      THEN 'no_sla'
      WHEN NOT tk.resolution_hours IS NULL AND tk.resolution_hours <= tk.sla_hours
      THEN 'met'
      WHEN NOT tk.resolution_hours IS NULL
      THEN 'breached'
      WHEN tk.hours_open_at_cutoff > tk.sla_hours
      THEN 'breached'
      ELSE 'pending'
    END AS sla_status
  FROM tk AS tk
), volume AS (
  SELECT
    status.group_1 AS group_1,
    status.group_2 AS group_2,
    status.group_3 AS group_3,
    status.period_start AS period_start,
    COUNT(*) AS n_tickets,
    COUNT(status.resolution_hours) AS n_resolved,
    COUNT(*) - COUNT(status.resolution_hours) AS n_open,
    SUM(CASE WHEN status.sla_status = 'met' THEN 1 ELSE 0 END) AS n_sla_met,
    SUM(CASE WHEN status.sla_status = 'breached' THEN 1 ELSE 0 END) AS n_sla_breached,
    SUM(CASE WHEN status.sla_status = 'pending' THEN 1 ELSE 0 END) AS n_sla_pending,
    SUM(CASE WHEN status.sla_status = 'no_sla' THEN 1 ELSE 0 END) AS n_no_sla,
    COUNT(status.first_response_hours) AS n_responded,
    PERCENTILE(status.first_response_hours, 0.5) AS first_response_p50_hours,
    PERCENTILE(status.first_response_hours, 0.9) AS first_response_p90_hours,
    PERCENTILE(status.resolution_hours, 0.5) AS resolution_p50_hours,
    PERCENTILE(status.resolution_hours, 0.9) AS resolution_p90_hours,
    SUM(
      CASE WHEN NOT status.resolution_hours IS NULL AND status.reopened THEN 1 ELSE 0 END
    ) AS n_reopened,
    SUM(CASE WHEN status.is_complaint THEN 1 ELSE 0 END) AS n_complaints
  FROM status AS status
  GROUP BY
    status.group_1,
    status.group_2,
    status.group_3,
    status.period_start
), calendar AS (
  SELECT
    periods.period_start AS period_start,
    CASE
      WHEN periods.period_end IS NULL OR periods.period_end > CAST(:cutoff AS TIMESTAMP_NTZ)
      THEN CAST(:cutoff AS TIMESTAMP_NTZ)
      ELSE periods.period_end
    END AS period_end
  FROM (
    SELECT DISTINCT
      tk.period_start AS period_start,
      CASE CAST(:period AS STRING)
        WHEN 'month'
        THEN tk.period_start + INTERVAL '1' MONTH
        WHEN 'quarter'
        THEN tk.period_start + INTERVAL '3' MONTH
        WHEN 'year'
        THEN tk.period_start + INTERVAL '1' YEAR
      END AS period_end
    FROM tk AS tk
  ) AS periods
), backlog AS (
  SELECT
    tk.group_1 AS group_1,
    tk.group_2 AS group_2,
    tk.group_3 AS group_3,
    c.period_start AS period_start,
    COUNT(*) AS backlog
  FROM calendar AS c
  JOIN tk AS tk
    ON tk.opened_at < c.period_end
    AND (
      tk.resolved_at IS NULL OR tk.resolved_at >= c.period_end
    )
  GROUP BY
    tk.group_1,
    tk.group_2,
    tk.group_3,
    c.period_start
), customers_on_record AS (
  SELECT
    on_record.period_start AS period_start,
    on_record.group_1 AS group_1,
    on_record.group_2 AS group_2,
    on_record.group_3 AS group_3,
    COUNT(*) AS n_customers
  FROM (
    SELECT
      c.period_start AS period_start,
      CASE CAST(:by_1 AS STRING)
        WHEN 'region'
        THEN a.region
        WHEN 'customer_type'
        THEN a.customer_type
        WHEN 'industry'
        THEN a.industry
        WHEN 'size_band'
        THEN a.size_band
        WHEN 'country'
        THEN a.country
      END AS group_1,
      CASE CAST(:by_2 AS STRING)
        WHEN 'region'
        THEN a.region
        WHEN 'customer_type'
        THEN a.customer_type
        WHEN 'industry'
        THEN a.industry
        WHEN 'size_band'
        THEN a.size_band
        WHEN 'country'
        THEN a.country
      END AS group_2,
      CASE CAST(:by_3 AS STRING)
        WHEN 'region'
        THEN a.region
        WHEN 'customer_type'
        THEN a.customer_type
        WHEN 'industry'
        THEN a.industry
        WHEN 'size_band'
        THEN a.size_band
        WHEN 'country'
        THEN a.country
      END AS group_3
    FROM calendar AS c
    JOIN attrs AS a
      ON a.created_at IS NULL OR a.created_at < c.period_end
  ) AS on_record
  GROUP BY
    on_record.period_start,
    on_record.group_1,
    on_record.group_2,
    on_record.group_3
), cells AS (
  SELECT
    volume.group_1 AS group_1,
    volume.group_2 AS group_2,
    volume.group_3 AS group_3,
    volume.period_start AS period_start
  FROM volume AS volume
  UNION
  SELECT
    backlog.group_1 AS group_1,
    backlog.group_2 AS group_2,
    backlog.group_3 AS group_3,
    backlog.period_start AS period_start
  FROM backlog AS backlog
)
SELECT
  cells.group_1 AS group_1,
  cells.group_2 AS group_2,
  cells.group_3 AS group_3,
  cells.period_start AS period_start,
  COALESCE(v.n_tickets, 0) AS n_tickets,
  COALESCE(v.n_resolved, 0) AS n_resolved,
  COALESCE(v.n_open, 0) AS n_open,
  COALESCE(v.n_sla_met, 0) AS n_sla_met,
  COALESCE(v.n_sla_breached, 0) AS n_sla_breached,
  COALESCE(v.n_sla_pending, 0) AS n_sla_pending,
  COALESCE(v.n_no_sla, 0) AS n_no_sla,
  COALESCE(v.n_responded, 0) AS n_responded,
  v.first_response_p50_hours AS first_response_p50_hours,
  v.first_response_p90_hours AS first_response_p90_hours,
  v.resolution_p50_hours AS resolution_p50_hours,
  v.resolution_p90_hours AS resolution_p90_hours,
  COALESCE(v.n_reopened, 0) AS n_reopened,
  COALESCE(v.n_complaints, 0) AS n_complaints,
  COALESCE(b.backlog, 0) AS backlog,
  COALESCE(cr.n_customers, 0) AS n_customers
FROM cells AS cells
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
  AND (
    CAST(:by_1 AS STRING) IN ('priority', 'channel', 'category')
    OR cr.group_1 IS NOT DISTINCT FROM cells.group_1
  )
  AND (
    CAST(:by_2 AS STRING) IN ('priority', 'channel', 'category')
    OR cr.group_2 IS NOT DISTINCT FROM cells.group_2
  )
  AND (
    CAST(:by_3 AS STRING) IN ('priority', 'channel', 'category')
    OR cr.group_3 IS NOT DISTINCT FROM cells.group_3
  )
ORDER BY
  cells.group_1 NULLS LAST,
  cells.group_2 NULLS LAST,
  cells.group_3 NULLS LAST,
  cells.period_start NULLS LAST
