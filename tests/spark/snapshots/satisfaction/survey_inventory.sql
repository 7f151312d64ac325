-- Generated from crm_analytics/satisfaction/sql/survey_inventory.sql by crm_analytics.spark.translate (sqlglot 30.30.0); do not edit.
SELECT
  survey_responses.survey AS survey,
  survey_responses.item AS item,
  COUNT(*) AS n_answers,
  COUNT(DISTINCT survey_responses.customer_id) AS n_respondents,
  COUNT(
    DISTINCT CAST(survey_responses.scale_min AS STRING) || '/' || CAST(survey_responses.scale_max AS STRING)
  ) AS n_scales,
  MIN(survey_responses.scale_min) AS scale_min,
  MAX(survey_responses.scale_max) AS scale_max
FROM survey_responses AS survey_responses
WHERE
  survey_responses.responded_at < CAST(:cutoff AS TIMESTAMP_NTZ)
GROUP BY
  survey_responses.survey,
  survey_responses.item
ORDER BY
  survey NULLS LAST,
  item NULLS LAST
