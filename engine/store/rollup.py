"""`line_rollup`: cost_line summed per batch, month, provider, account, service and owner-deciding tags (migration
0029). The overview reads it instead of every line: on 10M bench lines it is 54k rows.

Kept exact by every writer of cost_line in the engine, inside the writer's transaction: `refresh` recomputes the
rollup rows of the batches a write touched from their lines (ingest: the new batch and the batches it superseded;
rollback: the rolled-back batch and the ones it restored); `rebuild` recomputes all (the demo build, a migration
that changes lines). Both keep the forecast's daily rollup too (engine/store/day_rollup.py). Readers check
`current` first — the rollup's line count against cost_line's, both answered without reading a line — and read the
lines when they differ (lines written around the engine, e.g. by SQL).
"""

from __future__ import annotations

from collections.abc import Iterable

import duckdb

from engine.store import day_rollup

KEYS = ("batch_id", "billing_period", "provider", "billing_account_id", "sub_account_id", "service_name",
        "tag_cost_center", "tag_application")
_SUMS = "count(*), sum(billed_cost), sum(effective_cost)"

# the rollup in the shape of cost_line for the columns attribution reads (engine/insights/attribution.py); what it
# does not keep is NULL, so only figures over the kept columns may read it
AS_LINES = ("(SELECT billing_period, provider, billing_account_id, sub_account_id, service_name, "
            "CAST(NULL AS VARCHAR) AS service_category, CAST(NULL AS VARCHAR) AS resource_id, "
            "CAST(NULL AS VARCHAR) AS tag_environment, CAST(NULL AS MAP(VARCHAR, VARCHAR)) AS tags, "
            "tag_cost_center, tag_application, billed_cost, effective_cost, lines FROM line_rollup)")


def refresh(con: duckdb.DuckDBPyConnection, batch_ids: Iterable[str]) -> None:
    """Recompute the rollup rows of `batch_ids` from their lines (call inside the write's transaction)."""
    ids = sorted(set(batch_ids))
    if not ids:
        return
    marks = ", ".join("?" for _ in ids)
    con.execute(f"DELETE FROM line_rollup WHERE batch_id IN ({marks})", ids)
    con.execute(f"INSERT INTO line_rollup SELECT {', '.join(KEYS)}, {_SUMS} FROM cost_line "
                f"WHERE batch_id IN ({marks}) GROUP BY ALL", ids)
    day_rollup.refresh(con, ids)


def rebuild(con: duckdb.DuckDBPyConnection) -> None:
    """Recompute the whole rollup from cost_line."""
    con.execute("DELETE FROM line_rollup")
    con.execute(f"INSERT INTO line_rollup SELECT {', '.join(KEYS)}, {_SUMS} FROM cost_line GROUP BY ALL")
    day_rollup.rebuild(con)


def current(con: duckdb.DuckDBPyConnection) -> bool:
    """True while the rollup counts exactly the lines cost_line holds (a bare count(*) is table metadata)."""
    return day_rollup.counts_every_line(con, "line_rollup")


def lines_source(con: duckdb.DuckDBPyConnection) -> str:
    """What a dashboard figure over the kept columns reads: the rollup while current, else cost_line itself."""
    return AS_LINES if current(con) else "cost_line"
