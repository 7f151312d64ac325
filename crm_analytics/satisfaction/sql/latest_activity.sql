-- The latest moment with ticket or survey activity: the default as_of of the satisfaction
-- functions (crm_analytics.satisfaction.store_io.resolve_as_of).
-- Parameters: none
-- Output: latest_at (TIMESTAMP; NULL when the store has no tickets and no answers)
SELECT max(latest_at) AS latest_at
FROM (
    SELECT max(opened_at) AS latest_at FROM tickets
    UNION ALL
    SELECT max(first_response_at) FROM tickets
    UNION ALL
    SELECT max(resolved_at) FROM tickets
    UNION ALL
    SELECT max(responded_at) FROM survey_responses
) AS activity
