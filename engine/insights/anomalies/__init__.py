"""Cost anomalies (issue 13): which days cost more than anyone expected, at which scope, by how much.

- `detectors`: Apportion's detector as pure functions over daily series — the seasonal-naive baseline (median of
  the same weekday over the last 4 weeks) with a robust MAD scale and a dollar floor, its week-over-week fallback
  for series with less than 8 weeks of history, and new-entity detection. No store, no SQL.
- `scan`: the detectors over the store — daily amortised cost per cost centre, application, service, account and
  resource, aggregated in DuckDB (one GROUPING SETS query), scoped to the user's cost centres, returned as a frame
  of flags.

The definition, its parameters and the benchmark against the peers' published methods are in docs/anomalies.md
(figures: bench/results/anomalies.md). The anomaly workflow (persisting flags to the `anomaly` table,
acknowledge/dismiss), tickets, cost decomposition of a flag and the forecast arrive as separate modules.

Import from the submodules (`from engine.insights.anomalies.scan import scan`); this package re-exports nothing,
so the module `scan` and its function `scan` never shadow each other.
"""
