-- @params customer_key:BIGINT customer_id:VARCHAR cutoff:TIMESTAMP nps_item:VARCHAR csat_item:VARCHAR limit:BIGINT
-- @grain response_id
-- @engines duckdb
-- One customer's answers to the NPS and CSAT questions as of a date, newest first.
-- Parameters: $customer_key (BIGINT), $customer_id (VARCHAR), $cutoff (TIMESTAMP, exclusive),
--   $nps_item (VARCHAR), $csat_item (VARCHAR), $limit (BIGINT: answers per item at most)
-- Output: response_id, responded_at, survey, item, score, scale_min, scale_max
SELECT response_id, responded_at, survey, item, score, scale_min, scale_max
FROM (
    SELECT
        *,
        ROW_NUMBER() OVER (PARTITION BY item ORDER BY responded_at DESC, response_id DESC) AS recency
    FROM survey_responses
    WHERE customer_key = $customer_key AND customer_id = $customer_id AND responded_at < $cutoff
        AND item IN ($nps_item, $csat_item)
) AS answers
WHERE recency <= $limit
ORDER BY responded_at DESC, response_id DESC
