"""Row-level scoping: every query an app owner triggers is filtered in SQL by their cost centres."""

from __future__ import annotations

import duckdb

from engine.access.users import User
from engine.errors import AccessDenied

__all__ = ["AccessDenied", "cost_center_filter", "ensure_can_see", "visible_cost_centers"]


def cost_center_filter(user: User | None, column: str = "cost_center_id") -> tuple[str, list[object]]:
    """A SQL predicate and its parameters limiting rows to what `user` may see.

    No user means no rows: a caller that forgot to pass one must fail closed, not open.
    """
    if user is None:
        return "FALSE", []
    if user.cost_centers is None:
        return "TRUE", []
    if not user.cost_centers:
        return "FALSE", []
    return f"{column} IN (SELECT unnest(?::VARCHAR[]))", [sorted(user.cost_centers)]


def ensure_can_see(user: User | None, cost_center_id: str) -> None:
    """Server-side check for single-object requests (a statement, a dispute): the UI's choices are not trusted."""
    if user is None:
        raise AccessDenied("not signed in")
    if user.cost_centers is not None and cost_center_id not in user.cost_centers:
        raise AccessDenied(f"{user.username} may not see cost centre {cost_center_id}")


def visible_cost_centers(con: duckdb.DuckDBPyConnection, user: User | None) -> list[tuple[str, str]]:
    """(id, name) of the cost centres `user` may see, for pickers; filtered in SQL like every other query."""
    pred, params = cost_center_filter(user, "unit_id")
    return [(r[0], r[1]) for r in con.execute(
        f"SELECT unit_id, name FROM org_unit WHERE kind = 'cost_center' AND {pred} ORDER BY unit_id", params
    ).fetchall()]


def visible_business_units(con: duckdb.DuckDBPyConnection, user: User | None) -> list[tuple[str, str]]:
    """(id, name) of the business units `user` may see whole: every one for unscoped users; for an app owner, only
    those whose every cost centre is in the scope."""
    if user is None:
        return []
    rows = con.execute("SELECT b.unit_id, b.name, list(c.unit_id) FILTER (WHERE c.unit_id IS NOT NULL) FROM org_unit b"
                       " LEFT JOIN org_unit c ON c.parent_id = b.unit_id AND c.kind = 'cost_center'"
                       " WHERE b.kind = 'business_unit' GROUP BY ALL ORDER BY 1").fetchall()
    seen = user.cost_centers
    return [(str(u), str(n)) for u, n, ccs in rows if seen is None or (ccs and set(ccs) <= seen)]
