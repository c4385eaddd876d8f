-- The lines' daily pre-aggregate the forecast reads instead of the lines (engine/store/day_rollup.py, issue 18):
-- each line's effective cost spread over its charge days as the forecast spreads it, summed per batch, month,
-- provider, sub-account, the two owner-deciding tags, the known-commitment flag, start day and day; `lines` counts
-- each line once (on its first day; a line without a charge period on a row without a day) and `last_day` is the
-- latest charge day of the rows' lines. Kept by the writers that keep line_rollup, in their transactions; readers
-- use it only while its line count equals cost_line's.
-- Built here from the lines already stored: the three statements of day_rollup.rebuild as they were written.
CREATE TABLE day_rollup (
    batch_id         VARCHAR,
    billing_period   VARCHAR,
    provider         VARCHAR,
    sub_account_id   VARCHAR,
    tag_cost_center  VARCHAR,
    tag_application  VARCHAR,
    known            BOOLEAN NOT NULL,
    start_day        DATE,
    day              DATE,
    lines            BIGINT NOT NULL,
    amount           DECIMAL(38, 10),
    last_day         DATE
);
INSERT INTO day_rollup
SELECT batch_id, billing_period, provider, sub_account_id, tag_cost_center, tag_application, coalesce(l.charge_frequency = 'Recurring' OR l.commitment_discount_status = 'Unused' OR l.charge_category = 'Purchase', FALSE) AS known, CAST(l.charge_period_start AS DATE) AS start_day,
       CAST(l.charge_period_start AS DATE) AS day, count(*), CAST(sum(l.effective_cost) AS DECIMAL(38, 10)),
       max(CAST(l.charge_period_end - INTERVAL 1 MICROSECOND AS DATE))
FROM cost_line l WHERE l.charge_period_end <= date_trunc('day', l.charge_period_start) + INTERVAL 1 DAY GROUP BY ALL;
INSERT INTO day_rollup
SELECT batch_id, billing_period, provider, sub_account_id, tag_cost_center, tag_application, known, start_day, day, sum(CASE WHEN day = start_day THEN 1 ELSE 0 END),
       CAST(sum(CAST(cost / n AS DECIMAL(38, 10))) AS DECIMAL(38, 10)), max(last_day)
FROM (SELECT *, CAST(unnest(days) AS DATE) AS day, len(days) AS n
      FROM (SELECT batch_id, billing_period, provider, sub_account_id, tag_cost_center, tag_application, coalesce(l.charge_frequency = 'Recurring' OR l.commitment_discount_status = 'Unused' OR l.charge_category = 'Purchase', FALSE) AS known, CAST(l.charge_period_start AS DATE) AS start_day,
                   l.effective_cost AS cost, CAST(l.charge_period_end - INTERVAL 1 MICROSECOND AS DATE) AS last_day,
                   generate_series(CAST(CAST(l.charge_period_start AS DATE) AS TIMESTAMP),
                                   CAST(CAST(l.charge_period_end - INTERVAL 1 MICROSECOND AS DATE) AS TIMESTAMP), INTERVAL 1 DAY) AS days
            FROM cost_line l WHERE NOT (l.charge_period_end <= date_trunc('day', l.charge_period_start) + INTERVAL 1 DAY)))
GROUP BY ALL;
INSERT INTO day_rollup
SELECT batch_id, billing_period, provider, sub_account_id, tag_cost_center, tag_application, coalesce(l.charge_frequency = 'Recurring' OR l.commitment_discount_status = 'Unused' OR l.charge_category = 'Purchase', FALSE) AS known, CAST(NULL AS DATE), CAST(NULL AS DATE), count(*),
       CAST(NULL AS DECIMAL(38, 10)), max(CAST(l.charge_period_end - INTERVAL 1 MICROSECOND AS DATE))
FROM cost_line l WHERE (l.charge_period_start IS NULL OR l.charge_period_end IS NULL) GROUP BY ALL;
