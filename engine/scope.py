"""Row-level scoping: every query an app owner triggers is filtered in SQL by their cost centres."""

from __future__ import annotations

from engine.users import User


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
