"""Why a flagged scope's spend moved: the change of its cost lines between the comparison window and the incident's
days, split into usage (quantity), unit rate, new lines and vanished lines — to the cent.

The windows are the ones the "What carries it" table uses (`workflow.windows`): the incident's days against the 4
weeks before a daily incident, the 3 months before a month-over-month one, the month before an allocation change,
the "before" window scaled to the incident's length; lines spanning several days count by their overlap. The amount
is effective cost (amortised), the flags' metric.

Per line key — (provider, billing account, sub-account, service, SKU, resource, consumed unit, charge category),
within the scope — with cost C and consumed quantity Q before (b) and after (a):

- key in both windows with quantity in both: usage = (Qa − Qb) × Cb/Qb (the new quantity at the old unit price),
  rate = Ca − Qa × Cb/Qb (the new price on the new quantity);
- key in both windows without a quantity in one of them (fees, tax, credits): rate = Ca − Cb;
- key only after: new lines = Ca; key only before: vanished lines = −Cb.

The change in cents is (after rounded to the cent) − (before rounded to the cent); the four exact parts are rounded
to it by largest remainder (`allocation.rounding.largest_remainder`, ties by part order), so they add up to it.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal, localcontext
from typing import Any

import duckdb

from engine.access.scope import cost_center_filter
from engine.access.users import User
from engine.allocation.rounding import largest_remainder, to_cents
from engine.insights.anomalies.scan import _SCOPE_SQL
from engine.insights.anomalies.why import Split
from engine.insights.anomalies.workflow import OVERLAP, get_anomaly, span_text, windows
from engine.insights.attribution import LINE_OWNER, LINE_OWNER_JOINS

PARTS: tuple[str, ...] = ("usage", "rate", "new_lines", "vanished_lines")
TITLES = {"usage": "usage", "rate": "unit rate", "new_lines": "new lines", "vanished_lines": "vanished lines"}


def _dec(value: Any) -> Decimal:
    return Decimal(0) if value is None else Decimal(str(value))


def split_parts(keys: list[tuple[Decimal, Decimal, int, Decimal, Decimal, int]]) -> dict[str, Decimal]:
    """Exact parts from per-key (cost before, quantity before, lines before, cost after, quantity after, lines
    after); the classes are the module docstring's."""
    out: dict[str, Decimal] = defaultdict(Decimal)
    with localcontext() as ctx:
        ctx.prec = 60
        for cb, qb, nb, ca, qa, na in keys:
            if nb == 0:
                out["new_lines"] += ca
            elif na == 0:
                out["vanished_lines"] -= cb
            elif qb > 0 and qa > 0:
                at_old_price = qa * cb / qb
                out["usage"] += at_old_price - cb
                out["rate"] += ca - at_old_price
            else:
                out["rate"] += ca - cb
    return {p: out[p] for p in PARTS}


def _window_label(rule: str, start: date, end: date) -> str:
    """A window (end exclusive) as the incident's dates read: months for the monthly rules, else days."""
    return span_text(rule, start, end - timedelta(days=1))


def split_spend(con: duckdb.DuckDBPyConnection, user: User | None, anomaly_id: str) -> Split:
    """The spend split of one incident, scoped to `user` in SQL like its lines (AccessDenied / NotFound as
    `get_anomaly`)."""
    a = get_anomaly(con, user, anomaly_id)
    after, before, scale = windows(a)
    pred, sparams = cost_center_filter(user, "cost_center_id")
    overlap = OVERLAP
    sql = f"""
        WITH lines AS (
            SELECT l.charge_period_start AS s, l.charge_period_end AS e, l.effective_cost AS cost,
                   l.consumed_quantity AS qty, l.provider, l.billing_account_id, l.sub_account_id, l.service_name,
                   l.sku_id, l.resource_id, l.consumed_unit, l.charge_category, {LINE_OWNER},
                   coalesce(l.sub_account_id, l.billing_account_id) AS account_id
            FROM cost_line l
            {LINE_OWNER_JOINS}
            WHERE l.charge_period_start < ? AND l.charge_period_end > ?
        ),
        scoped AS (SELECT * FROM lines WHERE {_SCOPE_SQL[a.scope_kind]} = ? AND {pred}),
        weighted AS (SELECT *, coalesce({overlap}, 0) AS fa, coalesce({overlap}, 0) AS fb FROM scoped)
        SELECT sum(cost * fb) * ?, sum(coalesce(qty, 0) * fb) * ?, count(*) FILTER (WHERE fb > 0),
               sum(cost * fa), sum(coalesce(qty, 0) * fa), count(*) FILTER (WHERE fa > 0)
        FROM weighted WHERE fa > 0 OR fb > 0
        GROUP BY provider, billing_account_id, sub_account_id, service_name, sku_id, resource_id, consumed_unit,
                 charge_category
    """
    params: list[Any] = [after[1], before[0], a.scope_id, *sparams, after[1], after[0], before[1], before[0],
                         scale, scale]
    rows = con.execute(sql, params).fetchall()
    keys = [(_dec(cb), _dec(qb), int(nb), _dec(ca), _dec(qa), int(na)) for cb, qb, nb, ca, qa, na in rows]
    exact = split_parts(keys)
    total_before = sum((k[0] for k in keys), Decimal(0))
    total_after = sum((k[3] for k in keys), Decimal(0))
    change = to_cents(total_after) - to_cents(total_before)
    cents = largest_remainder([exact[p] for p in PARTS], change, list(range(len(PARTS))))
    before_label = _window_label(a.rule, *before) + (" (scaled)" if scale != 1 else "")
    return Split(change, dict(zip(PARTS, cents, strict=True)), TITLES, before_label,
                 _window_label(a.rule, *after))
