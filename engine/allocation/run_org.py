"""The org a posted run allocated with, kept beside the run (allocation_run_org): business units of cost centres,
cost centres of applications, owners of accounts — as of the run's month.

It lets a roll-up of an old run use the org it was posted with, and a diff between two runs name what moved
("Application APP018: cost centre CC05 → CC07") instead of only showing that amounts moved.
"""

from __future__ import annotations

import json
from typing import Any

import duckdb

from engine.allocation.pools import Org, load_org
from engine.masterdata.as_of import table_as_of


def snapshot(con: duckdb.DuckDBPyConnection, org: Org, period: str) -> dict[str, Any]:
    owners = con.sql(f"SELECT provider, sub_account_id, cost_center_id, app_id FROM "
                     f"{table_as_of('account_owner', period)} t ORDER BY 1, 2").fetchall()
    return {
        "parent": {u: p for u, p in sorted(org.parent.items()) if org.kind.get(u) == "cost_center"},
        "app_cc": dict(sorted(org.app_cc.items())),
        "account_owner": {f"{p}/{s}": [cc, app] for p, s, cc, app in owners},
    }


def save(con: duckdb.DuckDBPyConnection, run_key: str, snap: dict[str, Any]) -> None:
    """Inside the posting transaction."""
    con.execute("DELETE FROM allocation_run_org WHERE run_key = ?", [run_key])
    con.execute("INSERT INTO allocation_run_org VALUES (?, ?)", [run_key, json.dumps(snap, sort_keys=True)])


def load_snapshot(con: duckdb.DuckDBPyConnection, run_key: str) -> dict[str, Any] | None:
    rows = con.execute("SELECT org FROM allocation_run_org WHERE run_key = ?", [run_key]).fetchall()
    if not rows:
        return None
    out: dict[str, Any] = json.loads(rows[0][0])
    return out


def org_of_run(con: duckdb.DuckDBPyConnection, run_key: str) -> Org:
    """The org the run was posted with; runs from before snapshots: the org as of the run's month."""
    snap = load_snapshot(con, run_key)
    period_row = con.execute("SELECT period FROM allocation_run WHERE run_key = ?", [run_key]).fetchall()
    org = load_org(con, str(period_row[0][0]) if period_row else None)
    if snap is None:
        return org
    parent = dict(org.parent)
    parent.update(snap["parent"])
    return Org(kind=org.kind, parent=parent, app_cc=dict(snap["app_cc"]))


def _names(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    rows = con.sql("SELECT unit_id, name FROM org_unit UNION ALL SELECT app_id, name FROM application").fetchall()
    return {str(k): str(v) for k, v in rows}


def moves(con: duckdb.DuckDBPyConnection, run_a: str, run_b: str) -> list[str]:
    """What differs between the orgs two runs were posted with, one sentence per change (empty when the same or
    when either run has no snapshot)."""
    a, b = load_snapshot(con, run_a), load_snapshot(con, run_b)
    if a is None or b is None:
        return []
    names = _names(con)

    def label(i: str | None) -> str:
        return "none" if i is None else (f"{i} ({names[i]})" if i in names else i)

    out: list[str] = []
    for app in sorted(set(a["app_cc"]) | set(b["app_cc"])):
        x, y = a["app_cc"].get(app), b["app_cc"].get(app)
        if x != y:
            out.append(f"Application {label(app)}: cost centre {label(x)} → {label(y)}")
    for cc in sorted(set(a["parent"]) | set(b["parent"])):
        x, y = a["parent"].get(cc), b["parent"].get(cc)
        if x != y:
            out.append(f"Cost centre {label(cc)}: business unit {label(x)} → {label(y)}")
    for acct in sorted(set(a["account_owner"]) | set(b["account_owner"])):
        x, y = a["account_owner"].get(acct, [None, None]), b["account_owner"].get(acct, [None, None])
        if x[0] != y[0]:
            out.append(f"Account {acct}: cost centre {label(x[0])} → {label(y[0])}")
        if x[1] != y[1]:
            out.append(f"Account {acct}: application {label(x[1])} → {label(y[1])}")
    return out
