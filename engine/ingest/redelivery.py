"""What a new file replaces, before it is written: per earlier batch, the billing months, rows and amounts it would
supersede and the new file's rows and amounts for those months (cost_line), or how many rows it updates by natural
key (other tables). The pipeline asks for confirmation (`ingest_file(..., replace=True)`) before it replaces loaded
billing months; a month whose effective cost would drop by more than `redelivery_drop_warn_pct` gets a loud warning
(docs/ingestion.md, "Re-delivered month").
"""

from __future__ import annotations

import calendar
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import duckdb
import polars as pl

from engine.ingest.contract.rules import q, rules_for
from engine.settings import get_settings

SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


@dataclass
class MonthChange:
    """One (provider, billing account, month) the new file replaces: what is loaded now and what the file brings."""

    provider: str
    billing_account_id: str
    period: str
    currency: str
    rows: int
    billed: Decimal
    effective: Decimal
    new_rows: int
    new_billed: Decimal
    new_effective: Decimal

    @property
    def drop_pct(self) -> Decimal | None:
        """How much of the month's effective cost the replacement removes, in percent (None: nothing to drop)."""
        if self.effective <= 0:
            return None
        return (self.effective - self.new_effective) / self.effective * 100


@dataclass
class Replacement:
    """One earlier batch a file replaces (or would replace). Amounts are exact sums of the rows concerned, in
    `currency` (a batch whose months hold several currencies gives one Replacement per currency)."""

    batch_id: str
    file: str
    loaded_at: str
    loaded_by: str
    table: str
    rows: int                                   # loaded rows it replaces (cost_line) / updates by key (others)
    months: list[str] = field(default_factory=list)
    currency: str | None = None
    billed: Decimal | None = None
    effective: Decimal | None = None
    new_rows: int = 0
    new_billed: Decimal | None = None
    new_effective: Decimal | None = None
    by_month: list[MonthChange] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: amounts as exact strings."""
        out: dict[str, Any] = _jsonable(asdict(self))
        return out


def _jsonable(v: Any) -> Any:
    if isinstance(v, Decimal):
        return f"{v:f}"
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_jsonable(x) for x in v]
    return v


def month_name(period: str) -> str:
    """'2024-09' → 'September 2024' (anything else as it is)."""
    try:
        y, m = period.split("-")[:2]
        return f"{calendar.month_name[int(m)]} {int(y)}"
    except (ValueError, IndexError):
        return period


def money(amount: Decimal, currency: str | None) -> str:
    """`$12,345.67`, `€1.00`, or `CHF 3.50`; rounded half-even to cents for display only (the sums stay exact)."""
    cents = amount.quantize(Decimal("0.01"))
    sign = "-" if cents < 0 else ""
    code = currency or ""
    sym = SYMBOLS.get(code)
    return f"{sign}{sym}{abs(cents):,.2f}" if sym else f"{sign}{code + ' ' if code else ''}{abs(cents):,.2f}"


def _when(at: Any) -> str:
    return at.strftime("%Y-%m-%d %H:%M") if isinstance(at, datetime) else str(at)


def billing(con: duckdb.DuckDBPyConnection, scope: list[dict[str, Any]],
            exclude_batch: str | None = None) -> list[Replacement]:
    """The loaded billing rows the new file's `scope` (its provider/account/period totals) would replace, per earlier
    batch and currency, with the new totals per month and the drop warnings. Reads the batch scope table first
    (cheap); cost_line is summed only for batches that overlap."""
    if not scope:
        return []
    new = {(s["provider"], s["billing_account_id"], s["billing_period"]): s for s in scope}
    con.execute("CREATE OR REPLACE TEMP TABLE __ask_scope (provider VARCHAR, account VARCHAR, period VARCHAR)")
    con.executemany("INSERT INTO __ask_scope VALUES (?, ?, ?)", [list(k) for k in new])
    touched = [r[0] for r in con.sql(
        "SELECT DISTINCT s.batch_id FROM ingest_batch_scope s JOIN ingest_batch b USING (batch_id) "
        "JOIN __ask_scope n ON s.provider = n.provider AND s.billing_account_id = n.account "
        "AND s.billing_period = n.period WHERE b.status = 'loaded' AND s.replaced_by IS NULL "
        "AND b.batch_id IS DISTINCT FROM ? ORDER BY 1", params=[exclude_batch]).fetchall()]
    if not touched:
        return []
    marks = ", ".join("?" for _ in touched)
    rows = con.sql(
        f"SELECT c.batch_id, b.file_name, b.loaded_at, b.loaded_by, c.provider, coalesce(c.billing_account_id, ''), "
        f"c.billing_period, c.billing_currency, count(*), sum(c.billed_cost), sum(c.effective_cost) "
        f"FROM cost_line c JOIN ingest_batch b USING (batch_id) JOIN __ask_scope n ON c.provider = n.provider "
        f"AND coalesce(c.billing_account_id, '') = n.account AND c.billing_period = n.period "
        f"WHERE c.batch_id IN ({marks}) GROUP BY ALL ORDER BY ALL", params=touched).fetchall()
    con.execute("DROP TABLE IF EXISTS __ask_scope")
    limit = Decimal(str(get_settings().redelivery_drop_warn_pct))
    out: dict[tuple[str, str], Replacement] = {}
    for b, fname, at, by, prov, acct, period, cur, n, billed, eff in rows:
        s = new[(prov, acct, period)]
        r = out.setdefault((b, cur), Replacement(b, fname, _when(at), by, "cost_line", 0, currency=cur,
                                                 billed=Decimal(0), effective=Decimal(0), new_billed=Decimal(0),
                                                 new_effective=Decimal(0)))
        mc = MonthChange(prov, acct, period, cur, int(n), Decimal(billed or 0), Decimal(eff or 0), int(s["rows"]),
                         Decimal(str(s["billed_cost"] or 0)), Decimal(str(s["effective_cost"] or 0)))
        r.by_month.append(mc)
        if period not in r.months:
            r.months.append(period)
        r.rows += mc.rows
        r.new_rows += mc.new_rows
        r.billed = (r.billed or Decimal(0)) + mc.billed
        r.effective = (r.effective or Decimal(0)) + mc.effective
        r.new_billed = (r.new_billed or Decimal(0)) + mc.new_billed
        r.new_effective = (r.new_effective or Decimal(0)) + mc.new_effective
        drop = mc.drop_pct
        if drop is not None and drop > limit:
            r.warnings.append(
                f"{month_name(period)} ({prov} {acct or 'no billing account'}) drops from "
                f"{money(mc.effective, cur)} to {money(mc.new_effective, cur)} (−{drop:.0f} %): the new file has "
                f"{mc.new_rows:,} rows where {mc.rows:,} are loaded — check it is the whole month before replacing")
    return list(out.values())


def keyed(con: duckdb.DuckDBPyConnection, table: str, new_keys_sql: str,
          exclude_batch: str | None = None) -> list[Replacement]:
    """Rows of `table` (not cost_line) whose natural key the new file carries again, per earlier batch: the rows the
    file updates. `new_keys_sql` selects the new file's rows (any columns including the key columns)."""
    keys = rules_for(table).natural_key
    if not keys:
        return []
    key_list = ", ".join(q(k) for k in keys)
    found = con.sql(
        f"SELECT t.batch_id, b.file_name, b.loaded_at, b.loaded_by, count(*) FROM {q(table)} t "
        f"JOIN (SELECT DISTINCT {key_list} FROM ({new_keys_sql})) n USING ({key_list}) "
        f"JOIN ingest_batch b ON b.batch_id = t.batch_id WHERE t.batch_id IS DISTINCT FROM ? "
        f"GROUP BY ALL ORDER BY 1", params=[exclude_batch]).fetchall()
    return [Replacement(b, f, _when(at), by, table, int(n), new_rows=int(n)) for b, f, at, by, n in found]


def describe(name: str, pending: list[Replacement], *, done: bool) -> list[str]:
    """One line per replaced batch, for messages: what it replaces (or would), then each loud warning."""
    lines: list[str] = []
    verb = "replaces" if done else "would replace"
    for r in pending:
        if r.table == "cost_line":
            months = ", ".join(month_name(m) for m in r.months)

            def m(v: Decimal | None, cur: str | None = r.currency) -> str:
                return money(v or Decimal(0), cur)

            lines.append(
                f"{name}: {verb} earlier rows of batch {r.batch_id} ({r.rows:,} rows of {r.file}, loaded "
                f"{r.loaded_at} by {r.loaded_by}) for {months}: billed {m(r.billed)}, effective {m(r.effective)} "
                f"→ the new file has {r.new_rows:,} rows, billed {m(r.new_billed)}, effective {m(r.new_effective)}")
        else:
            lines.append(f"{name}: {'updates' if done else 'would update'} {r.rows:,} existing {r.table} rows of "
                         f"batch {r.batch_id} ({r.file}, loaded {r.loaded_at} by {r.loaded_by}) by their key")
    return lines


def drop_warnings(pending: list[Replacement]) -> list[str]:
    return [w for r in pending for w in r.warnings]


def pending_frame(pending: list[Replacement]) -> pl.DataFrame:
    """What a file replaces, one row per earlier batch and month, for a page table (amounts exact, as text-free
    Decimals; months as names)."""
    rows = [{"batch": r.batch_id, "file": r.file, "loaded": r.loaded_at, "by": r.loaded_by,
             "month": month_name(m.period), "account": f"{m.provider} {m.billing_account_id}".strip(),
             "currency": m.currency, "rows now": m.rows, "billed now": m.billed, "effective now": m.effective,
             "rows in file": m.new_rows, "billed in file": m.new_billed, "effective in file": m.new_effective}
            for r in pending for m in r.by_month]
    rows += [{"batch": r.batch_id, "file": r.file, "loaded": r.loaded_at, "by": r.loaded_by, "month": None,
              "account": r.table, "currency": None, "rows now": r.rows, "billed now": None, "effective now": None,
              "rows in file": r.new_rows, "billed in file": None, "effective in file": None}
             for r in pending if not r.by_month]
    money_type = pl.Decimal(38, 10)
    schema: dict[str, pl.DataType | type[pl.DataType]] = {
              "batch": pl.String, "file": pl.String, "loaded": pl.String, "by": pl.String, "month": pl.String,
              "account": pl.String, "currency": pl.String, "rows now": pl.Int64, "billed now": money_type,
              "effective now": money_type, "rows in file": pl.Int64, "billed in file": money_type,
              "effective in file": money_type}
    return pl.DataFrame(rows, schema=schema)
