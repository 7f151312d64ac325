-- Generated from crm_analytics/satisfaction/sql/survey_answers.sql by crm_analytics.spark.translate (sqlglot 30.30.0); do not edit.
WITH answers AS (
  SELECT
    survey_responses.customer_id AS customer_id,
    CAST(survey_responses.responded_at AS DATE) AS responded_on,
    survey_responses.responded_at AS responded_at,
    survey_responses.item AS item,
    survey_responses.score AS score,
    survey_responses.scale_min AS scale_min,
    survey_responses.scale_max AS scale_max,
    ROW_NUMBER() OVER (
      PARTITION BY survey_responses.customer_id, CAST(survey_responses.responded_at AS DATE), survey_responses.item
      ORDER BY survey_responses.responded_at DESC NULLS LAST, survey_responses.response_id DESC NULLS LAST
    ) AS answer_rank,
    DENSE_RANK() OVER (
      PARTITION BY survey_responses.customer_id
      ORDER BY CAST(survey_responses.responded_at AS DATE) DESC NULLS LAST
    ) AS questionnaire_rank
  FROM survey_responses AS survey_responses
  WHERE
    survey_responses.survey = CAST(:survey AS STRING)
    AND survey_responses.responded_at < CAST(:cutoff AS TIMESTAMP_NTZ)
)
SELECT
  answers.customer_id AS customer_id,
  answers.responded_on AS responded_on,
  MAX(answers.responded_at) OVER (PARTITION BY answers.customer_id, answers.responded_on) AS responded_at,
  answers.item AS item,
  answers.score AS score,
  answers.scale_min AS scale_min,
  answers.scale_max AS scale_max
FROM answers AS answers
WHERE
  answers.answer_rank = 1
  AND (
    NOT CAST(:latest_only AS BOOLEAN) OR answers.questionnaire_rank = 1
  )
ORDER BY
  customer_id NULLS LAST,
  responded_on NULLS LAST,
  item NULLS LAST
