-- GL mapping per cost pool: where a pool's allocated cost is posted in the ledger (docs/journals.md).
-- Chargeback: Dr debit_account on each receiving cost centre, Cr credit_account on credit_cost_center (the providing
-- pool's cost centre) or, when that is NULL, on a clearing account without a cost centre. The reserved pool
-- 'depreciation' maps the asset register's depreciation (Dr expense on the asset's cost centre, Cr accumulated).
-- Changes go through engine/outputs/journals/mapping.py (audited); these rows are the demo rule set's defaults.
CREATE TABLE gl_mapping (
    pool                VARCHAR PRIMARY KEY,
    debit_account       VARCHAR NOT NULL,
    credit_account      VARCHAR NOT NULL,
    credit_cost_center  VARCHAR,
    classification      VARCHAR NOT NULL CHECK (classification IN ('opex', 'capex')),
    description         VARCHAR NOT NULL,
    updated_by          VARCHAR NOT NULL,
    updated_at          TIMESTAMP NOT NULL DEFAULT current_timestamp
);

INSERT INTO gl_mapping (pool, debit_account, credit_account, credit_cost_center, classification, description,
                        updated_by) VALUES
    ('network',            '6420', '6490', 'CC035', 'opex',  'IT recharge: enterprise network',           'default'),
    ('security',           '6430', '6490', 'CC037', 'opex',  'IT recharge: security tooling',             'default'),
    ('backup',             '6440', '6490', 'CC036', 'opex',  'IT recharge: backup and recovery',          'default'),
    ('k8s_platform',       '6450', '6490', 'CC038', 'opex',  'IT recharge: shared Kubernetes platform',   'default'),
    ('it_overhead',        '6460', '6490', 'CC039', 'opex',  'IT recharge: service desk and architecture', 'default'),
    ('tagged',             '6400', '1950', NULL,    'opex',  'Cloud and IT spend, direct',                'default'),
    ('untagged',           '6400', '1950', NULL,    'opex',  'Cloud and IT spend, untagged, spread',      'default'),
    ('account_charges',    '6410', '1950', NULL,    'opex',  'Cloud account charges (tax, credits, purchases)', 'default'),
    ('unused_commitments', '6470', '1950', NULL,    'opex',  'Unused cloud commitments',                  'default'),
    ('depreciation',       '6810', '1790', NULL,    'capex', 'Depreciation of IT assets',                 'default');
