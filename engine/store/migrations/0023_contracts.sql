-- The contract register: what each vendor contract commits to, when it renews, and whether it provides what
-- allocation needs (usage reports, tags, per-unit pricing, invoice detail).
CREATE SEQUENCE contract_no START 1;

CREATE TABLE contract (
    contract_no             INTEGER PRIMARY KEY DEFAULT nextval('contract_no'),
    vendor                  VARCHAR NOT NULL,
    name                    VARCHAR NOT NULL,
    start_date              DATE NOT NULL,
    end_date                DATE NOT NULL,
    committed_spend         DECIMAL(18, 2) NOT NULL,
    currency                VARCHAR NOT NULL,
    notice_days             INTEGER NOT NULL DEFAULT 90,
    provides_usage_reports  BOOLEAN NOT NULL,
    provides_tags           BOOLEAN NOT NULL,
    provides_unit_pricing   BOOLEAN NOT NULL,
    provides_invoice_detail BOOLEAN NOT NULL,
    notes                   VARCHAR,
    recorded_by             VARCHAR NOT NULL,
    recorded_at             TIMESTAMP NOT NULL DEFAULT current_timestamp
);
