-- The lines' pre-aggregate the dashboards read instead of the lines (engine/store/rollup.py, issue 18): per batch,
-- month, provider, billing and sub-account, service and the two tags that decide a line's owner (its cost-centre
-- and application tags), the number of lines and their exact sums. Every writer of cost_line in the engine keeps it
-- inside its own transaction (ingest, re-delivery, rollback); readers use it only while its line count equals
-- cost_line's, and read the lines otherwise. Built here from the lines already stored.
CREATE TABLE line_rollup (
    batch_id           VARCHAR,
    billing_period     VARCHAR,
    provider           VARCHAR,
    billing_account_id VARCHAR,
    sub_account_id     VARCHAR,
    service_name       VARCHAR,
    tag_cost_center    VARCHAR,
    tag_application    VARCHAR,
    lines              BIGINT NOT NULL,
    billed_cost        DECIMAL(38, 10),
    effective_cost     DECIMAL(38, 10)
);
INSERT INTO line_rollup
SELECT batch_id, billing_period, provider, billing_account_id, sub_account_id, service_name, tag_cost_center,
       tag_application, count(*), sum(billed_cost), sum(effective_cost)
FROM cost_line GROUP BY ALL;
