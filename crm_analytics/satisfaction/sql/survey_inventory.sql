-- @params cutoff:TIMESTAMP
-- @grain survey item
-- @engines duckdb spark
-- What the store holds of each survey item as of a date: for checks and error messages.
-- Parameters: $cutoff (TIMESTAMP, exclusive: the day after as_of at 00:00)
-- Output: survey (VARCHAR, may be NULL), item, n_answers, n_respondents, n_scales (distinct
--         (scale_min, scale_max) pairs), scale_min, scale_max (the lowest and highest bound
--         seen), one row per survey and item, ordered by survey and item
SELECT
    survey,
    item,
    count(*) AS n_answers,
    count(DISTINCT customer_id) AS n_respondents,
    count(DISTINCT CAST(scale_min AS VARCHAR) || '/' || CAST(scale_max AS VARCHAR)) AS n_scales,
    min(scale_min) AS scale_min,
    max(scale_max) AS scale_max
FROM survey_responses
WHERE responded_at < $cutoff
GROUP BY survey, item
ORDER BY survey, item
