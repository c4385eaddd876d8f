"""Cost anomalies (issue 13): which days cost more than anyone expected, at which scope, by how much.

- `detectors`: Apportion's detector as pure functions over daily series — the seasonal-naive baseline (median of
  the same weekday over the last 4 weeks) with a robust MAD scale and a dollar floor, its week-over-week fallback
  for series with less than 8 weeks of history, and new-entity detection. No store, no SQL.
- `scan`: the detectors over the store — daily amortised cost per cost centre, application, service, account and
  resource, aggregated in DuckDB (one GROUPING SETS query), scoped to the user's cost centres, returned as a frame
  of flags.
- `monthly`: the month-over-month rule (median of the previous three months) for bills whose lines land on a few
  days of the month, run at month close.
- `workflow`: flags persisted as incidents in the `anomaly` table (idempotent, consecutive days merged), triage
  (open → acknowledged → resolved / false positive, checked and audited in the engine), expected patterns, tickets
  through engine/outputs/tickets, and the cheap `flags_version` pages poll.
- `jobs`: the calls the ingest pipeline and month close make, which never fail the job they follow.
- `allocation_change`: allocation outliers at month close — a cost centre's posted charge against the month before.
- `decompose`: why an allocated charge moved — usage, unit rate, driver values, master data, rule version, by
  re-running the cascade with one month input swapped at a time; `spend_split`: why a scope's spend moved — usage,
  unit rate, new and vanished lines; `why`: the parts-and-sentence answer both return.

The definition, its parameters and the benchmark against the peers' published methods are in docs/anomalies.md
(figures: bench/results/anomalies.md). The forecast is still to come.

Import from the submodules (`from engine.insights.anomalies.scan import scan`); this package re-exports nothing,
so the module `scan` and its function `scan` never shadow each other.
"""
