-- Money in one currency (docs/fx.md). `fx_rate`: reporting-currency units per 1 unit of `currency` for a month,
-- versioned: a new rate for the same reporting currency, period and currency supersedes the one in force
-- (superseded_at set), never overwrites it. Loaded from a rates CSV or entered one by one (engine/fx/rates.py).
CREATE TABLE fx_rate (
    reporting_currency  VARCHAR NOT NULL,
    period              VARCHAR NOT NULL,       -- YYYY-MM
    currency            VARCHAR NOT NULL,       -- ISO 4217
    rate                DECIMAL(38, 10) NOT NULL,
    version             INTEGER NOT NULL,       -- 1, 2, … per (reporting_currency, period, currency)
    source              VARCHAR NOT NULL,       -- manual, ecb:FILE, long:FILE
    entered_by          VARCHAR NOT NULL,
    entered_at          TIMESTAMP NOT NULL DEFAULT current_timestamp,
    superseded_at       TIMESTAMP,              -- NULL while in force
    superseded_by       VARCHAR                 -- who entered the rate that replaced it
);

-- Cost lines carry the reporting currency amounts in billed_cost / effective_cost / list_cost / contracted_cost
-- (every consumer reads those), the file's own amounts in *_billing and the rate used (1 in the reporting currency).
ALTER TABLE cost_line ADD COLUMN billed_cost_billing DECIMAL(38, 10);
ALTER TABLE cost_line ADD COLUMN effective_cost_billing DECIMAL(38, 10);
ALTER TABLE cost_line ADD COLUMN list_cost_billing DECIMAL(38, 10);
ALTER TABLE cost_line ADD COLUMN contracted_cost_billing DECIMAL(38, 10);
ALTER TABLE cost_line ADD COLUMN reporting_currency VARCHAR;
ALTER TABLE cost_line ADD COLUMN fx_rate DECIMAL(38, 10);
UPDATE cost_line SET billed_cost_billing = billed_cost, effective_cost_billing = effective_cost,
    list_cost_billing = list_cost, contracted_cost_billing = contracted_cost, reporting_currency = billing_currency,
    fx_rate = 1;

-- cost_line_superseded keeps cost_line's columns in cost_line's order, then superseded_by (the pipeline copies
-- rows by position), so it is rebuilt with the new columns before superseded_by.
CREATE TABLE cost_line_superseded_0025 AS SELECT * EXCLUDE (superseded_by),
    billed_cost AS billed_cost_billing, effective_cost AS effective_cost_billing, list_cost AS list_cost_billing,
    contracted_cost AS contracted_cost_billing, billing_currency AS reporting_currency,
    CAST(1 AS DECIMAL(38, 10)) AS fx_rate, superseded_by
    FROM cost_line_superseded;
DROP TABLE cost_line_superseded;
ALTER TABLE cost_line_superseded_0025 RENAME TO cost_line_superseded;
