-- @params name:VARCHAR rule:VARCHAR description:VARCHAR now:TIMESTAMP
-- @grain (no rows)
-- @engines duckdb
-- Insert or replace one custom segment definition, matching names ignoring case
-- (see segmentation/rules.py: define_segment). One statement, so it is atomic on its
-- own and also inside a caller's transaction. MERGE is standard SQL (2003).
-- Parameters: $name (VARCHAR), $rule (VARCHAR), $description (VARCHAR), $now (TIMESTAMP)
-- Output: none (created_at is kept on update, updated_at set to $now)
MERGE INTO segment_definitions AS t
USING (
    SELECT
        CAST($name AS VARCHAR) AS name,
        CAST($rule AS VARCHAR) AS rule,
        CAST($description AS VARCHAR) AS description,
        CAST($now AS TIMESTAMP) AS now
) AS s
ON lower(t.name) = lower(s.name)
WHEN MATCHED THEN UPDATE SET name = s.name, rule = s.rule, description = s.description, updated_at = s.now
WHEN NOT MATCHED THEN INSERT VALUES (s.name, s.rule, s.description, s.now, s.now)
