-- @params survey:VARCHAR cutoff:TIMESTAMP latest_only:BOOLEAN
-- @grain customer_id responded_on item
-- @engines duckdb spark
-- Answers to one survey as of a date, one row per questionnaire and item: the long form
-- behind survey_wide. A questionnaire is a customer's answers to the survey on one day;
-- an item answered twice that day keeps its latest answer.
-- Parameters:
--   $survey (VARCHAR)        value of survey_responses.survey, e.g. 'ecsi'
--   $cutoff (TIMESTAMP)      exclusive upper bound: the day after as_of at 00:00
--   $latest_only (BOOLEAN)   keep only each customer's latest questionnaire
-- Output: customer_id, responded_on (DATE), responded_at (TIMESTAMP: the questionnaire's
--         latest answer), item, score, scale_min, scale_max; ordered by customer_id,
--         responded_on, item
WITH answers AS (
    SELECT
        customer_id, CAST(responded_at AS DATE) AS responded_on, responded_at, item, score,
        scale_min, scale_max,
        ROW_NUMBER() OVER (
            PARTITION BY customer_id, CAST(responded_at AS DATE), item
            ORDER BY responded_at DESC, response_id DESC
        ) AS answer_rank,
        DENSE_RANK() OVER (
            PARTITION BY customer_id ORDER BY CAST(responded_at AS DATE) DESC
        ) AS questionnaire_rank
    FROM survey_responses
    WHERE survey = $survey AND responded_at < $cutoff
)
SELECT
    customer_id, responded_on,
    max(responded_at) OVER (PARTITION BY customer_id, responded_on) AS responded_at,
    item, score, scale_min, scale_max
FROM answers
WHERE answer_rank = 1 AND (NOT $latest_only OR questionnaire_rank = 1)
ORDER BY customer_id, responded_on, item
