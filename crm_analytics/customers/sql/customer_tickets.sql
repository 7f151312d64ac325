-- @params customer_key:BIGINT customer_id:VARCHAR cutoff:TIMESTAMP reference:TIMESTAMP due_soon_hours:DOUBLE
-- @grain ticket_id
-- @engines duckdb
-- One customer's tickets as of a date with their SLA status, open ones first.
-- What happened after the reference time is not known yet: a later first response or
-- resolution is NULL here (the definitions of crm_analytics.satisfaction.service).
-- SLA status: met (resolved within sla_hours of opening, the deadline itself included);
-- breached (resolved later, or open past the deadline); due_soon (open, deadline within
-- $due_soon_hours); pending (open, deadline later); no_sla (no sla_hours).
-- Parameters: $customer_key (BIGINT), $customer_id (VARCHAR), $cutoff (TIMESTAMP, exclusive:
--   tickets opened before it), $reference (TIMESTAMP: the moment statuses are taken at, the
--   cutoff or now if earlier), $due_soon_hours (DOUBLE)
-- Output: ticket_id, opened_at, status, first_response_at, resolved_at, priority, category,
--   channel, sla_hours, sla_status, hours_to_deadline, is_complaint, reopened
WITH tk AS (
    SELECT
        ticket_id, opened_at, priority, category, channel, sla_hours, is_complaint, reopened,
        CASE WHEN first_response_at < $reference THEN first_response_at END AS first_response_at,
        CASE WHEN resolved_at < $reference THEN resolved_at END AS resolved_at,
        EXTRACT(EPOCH FROM ($reference - opened_at)) / 3600.0 AS hours_open
    FROM tickets
    WHERE customer_key = $customer_key AND customer_id = $customer_id AND opened_at < $cutoff
)
SELECT
    ticket_id, opened_at,
    CASE WHEN resolved_at IS NULL THEN 'open' ELSE 'resolved' END AS status,
    first_response_at, resolved_at, priority, category, channel, sla_hours,
    CASE
        WHEN sla_hours IS NULL THEN 'no_sla'
        WHEN resolved_at IS NOT NULL
            AND EXTRACT(EPOCH FROM (resolved_at - opened_at)) / 3600.0 <= sla_hours THEN 'met'
        WHEN resolved_at IS NOT NULL THEN 'breached'
        WHEN hours_open > sla_hours THEN 'breached'
        WHEN sla_hours - hours_open <= $due_soon_hours THEN 'due_soon'
        ELSE 'pending'
    END AS sla_status,
    CASE WHEN resolved_at IS NULL THEN sla_hours - hours_open END AS hours_to_deadline,
    is_complaint, reopened
FROM tk
ORDER BY CASE WHEN resolved_at IS NULL THEN 0 ELSE 1 END, opened_at DESC, ticket_id DESC
