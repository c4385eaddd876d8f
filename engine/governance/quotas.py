"""Quotas: how much of a resource class a cost centre may hold, and how much it holds now.

In use = what the inventory shows (asset records in use of that class owned by the cost centre — discovery sources
such as SCCM or Jamf see the same devices again and are not counted; for `licence:<product>`, assigned seats) plus
the quantity of approved provisioning requests not yet in the inventory. Requests are counted until the inventory
catches up — a conservative choice: a pipeline that deploys twice cannot slip past the quota.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import duckdb

from engine.access.policy import require
from engine.access.users import User
from engine.errors import InputError
from engine.ingest import registry
from engine.store import audit, transaction

LICENCE_PREFIX = "licence:"


@dataclass(frozen=True)
class QuotaUse:
    cost_center_id: str
    resource_class: str
    limit: Decimal | None          # None: no quota set for this class
    inventory: Decimal
    approved_requests: Decimal

    @property
    def in_use(self) -> Decimal:
        return self.inventory + self.approved_requests

    def remaining(self) -> Decimal | None:
        return None if self.limit is None else self.limit - self.in_use


def set_quota(con: duckdb.DuckDBPyConnection, user: User, cost_center_id: str, resource_class: str,
              limit: Decimal) -> None:
    require(user, "manage_budgets", f"set the {resource_class} quota of {cost_center_id}")
    if limit < 0:
        raise InputError(f"a quota cannot be negative ({limit})")
    if not con.execute("SELECT 1 FROM org_unit WHERE unit_id = ? AND kind = 'cost_center'",
                       [cost_center_id]).fetchall():
        raise InputError(f"{cost_center_id!r} is not a cost centre")
    if not resource_class.strip():
        raise InputError("name the resource class (an asset class such as server, or licence:<product>)")
    before = con.execute("SELECT limit_qty FROM quota WHERE cost_center_id = ? AND resource_class = ?",
                         [cost_center_id, resource_class]).fetchall()
    with transaction(con):
        con.execute("DELETE FROM quota WHERE cost_center_id = ? AND resource_class = ?",
                    [cost_center_id, resource_class])
        con.execute("INSERT INTO quota (cost_center_id, resource_class, limit_qty, set_by) VALUES (?, ?, ?, ?)",
                    [cost_center_id, resource_class, limit, user.username])
        audit.record(con, user.username, "quota.set", "quota", f"{cost_center_id}/{resource_class}",
                     {"limit": str(limit), "previous": str(before[0][0]) if before else None})


def use(con: duckdb.DuckDBPyConnection, cost_center_id: str, resource_class: str) -> QuotaUse:
    limit = con.execute("SELECT limit_qty FROM quota WHERE cost_center_id = ? AND resource_class = ?",
                        [cost_center_id, resource_class]).fetchall()
    if resource_class.startswith(LICENCE_PREFIX):
        inv = con.execute("SELECT count(*) FROM licence_assignment WHERE cost_center_id = ? AND product = ?",
                          [cost_center_id, resource_class[len(LICENCE_PREFIX):]]).fetchall()[0][0]
    else:
        discovery = list(registry.with_role("discovery"))     # seen by agents: the records already count them
        marks = ", ".join("?" for _ in discovery) or "NULL"
        inv = con.execute("SELECT count(*) FROM asset WHERE cost_center_id = ? AND class = ?"
                          f" AND coalesce(lifecycle_status, 'in_use') = 'in_use' AND source NOT IN ({marks})",
                          [cost_center_id, resource_class, *discovery]).fetchall()[0][0]
    approved = con.execute("SELECT coalesce(sum(quantity), 0) FROM provisioning_request WHERE state = 'approved'"
                           " AND cost_center_id = ? AND resource_class = ?",
                           [cost_center_id, resource_class]).fetchall()[0][0]
    return QuotaUse(cost_center_id, resource_class, Decimal(limit[0][0]) if limit else None, Decimal(inv),
                    Decimal(approved))
