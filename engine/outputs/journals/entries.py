"""A posted run as balanced journal documents: one chargeback document per pool, one depreciation document.

- Chargeback (per pool with money charged out): Dr the pool's `debit_account` on each receiving cost centre, one line
  per cost centre (all steps summed, cents as posted); Cr the pool's `credit_account` on its `credit_cost_center`
  (the providing pool's cost centre), or on a clearing account without a cost centre, for the sum of those debits.
  A negative receiver (a credit passed on) is a credit line. The run's UNALLOCATED line is not charged out: it stays
  where the cost was booked, and the journal reports it (`Journal.unallocated`).
- Depreciation: the asset register's depreciation of the period (capitalised assets), Dr the `depreciation` row's
  debit account / Cr its credit account per asset cost centre (engine/costmodels/depreciation.py `journal`).
- Every document balances to zero in one currency (settings.currency) or nothing is built. Document numbers are the
  run key's first eight characters and the document's position (pools sorted by name, depreciation last), so
  re-exporting a run gives the same numbers and the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Literal

import duckdb
import polars as pl

from engine.allocation.runs import latest_run
from engine.costmodels import depreciation
from engine.errors import AllocationError, InputError, NotFound
from engine.fiscal.calendar import FiscalCalendar, fiscal_year_of, period_number
from engine.masterdata.as_of import check_period
from engine.outputs.journals.mapping import DEPRECIATION, GlMapping
from engine.outputs.journals.mapping import load as load_mapping
from engine.settings import Settings, get_settings

Kind = Literal["chargeback", "depreciation"]
ZERO = Decimal("0.00")
UNALLOCATED_KIND = "unallocated"


@dataclass(frozen=True)
class Line:
    number: int                     # 1, 2, … within the document
    account: str
    cost_center: str | None         # None: a clearing (balance-sheet) account, no cost centre
    amount: Decimal                 # signed: debit > 0, credit < 0
    text: str

    @property
    def debit(self) -> Decimal:
        return self.amount if self.amount > 0 else ZERO

    @property
    def credit(self) -> Decimal:
        return -self.amount if self.amount < 0 else ZERO


@dataclass(frozen=True)
class Document:
    number: str                     # deterministic from the run: "<run key[:8]>-<nnn>"
    kind: Kind
    pool: str
    classification: str
    header_text: str
    lines: tuple[Line, ...]

    @property
    def balance(self) -> Decimal:
        return sum((ln.amount for ln in self.lines), ZERO)

    @property
    def total_debit(self) -> Decimal:
        return sum((ln.debit for ln in self.lines), ZERO)


@dataclass(frozen=True)
class Journal:
    period: str
    run_key: str
    rule_set: str
    rule_version: int
    run_state: str                  # "locked" (the month's approved close) or "posted" (its latest posted run)
    currency: str
    company_code: str
    ledger_id: int
    posting_date: date              # the fiscal period's last day (engine/fiscal/calendar.py)
    fiscal_year: int
    fiscal_period: int
    documents: tuple[Document, ...]
    unallocated: Decimal            # the run's UNALLOCATED line: not charged out, not in any document

    @property
    def reference(self) -> str:
        return f"{self.rule_set} v{self.rule_version}"

    @property
    def total_debit(self) -> Decimal:
        return sum((d.total_debit for d in self.documents), ZERO)

    def frame(self) -> pl.DataFrame:
        """Every line with its document and header fields (what the layouts write)."""
        rows = [{
            "document": d.number, "line": ln.number, "kind": d.kind, "pool": d.pool,
            "classification": d.classification, "header_text": d.header_text, "account": ln.account,
            "cost_center": ln.cost_center, "amount": ln.amount, "debit": ln.debit, "credit": ln.credit,
            "text": ln.text,
        } for d in self.documents for ln in d.lines]
        return pl.DataFrame(rows, schema=LINES_SCHEMA, orient="row")


LINES_SCHEMA = pl.Schema({
    "document": pl.String(), "line": pl.Int64(), "kind": pl.String(), "pool": pl.String(),
    "classification": pl.String(), "header_text": pl.String(), "account": pl.String(), "cost_center": pl.String(),
    "amount": pl.Decimal(18, 2), "debit": pl.Decimal(18, 2), "credit": pl.Decimal(18, 2), "text": pl.String(),
})


def resolve_run(con: duckdb.DuckDBPyConnection, period: str, run_key: str | None = None) -> tuple[str, str]:
    """(run key, state): the named run (posted, of that period), else the month's locked close, else its latest
    posted run."""
    check_period(period)
    if run_key:
        rows = con.execute("SELECT period, status FROM allocation_run WHERE run_key = ?", [run_key]).fetchall()
        if not rows or rows[0][1] not in ("posted", "superseded"):
            raise NotFound(f"no posted allocation run {run_key}")
        if rows[0][0] != period:
            raise InputError(f"run {run_key[:12]} is the run of {rows[0][0]}, not of {period}")
        locked = con.execute("SELECT run_key FROM period_close WHERE period = ? AND state = 'locked'",
                             [period]).fetchall()
        return run_key, "locked" if locked and locked[0][0] == run_key else "posted"
    locked = con.execute("SELECT run_key FROM period_close WHERE period = ? AND state = 'locked'", [period]
                         ).fetchall()
    if locked and locked[0][0]:
        return str(locked[0][0]), "locked"
    latest = latest_run(con, period)
    if latest is None:
        raise NotFound(f"no posted allocation run for {period}: run the month close first")
    return latest, "posted"


def _check_currency(con: duckdb.DuckDBPyConnection, period: str, currency: str) -> None:
    found = sorted(str(r[0]) for r in con.execute(
        "SELECT DISTINCT billing_currency FROM cost_line WHERE billing_period = ?", [period]).fetchall())
    other = [c for c in found if c != currency]
    if other:
        raise InputError(f"{period} has cost in {', '.join(other)} besides the reporting currency {currency}: a "
                         "journal is posted in one currency, so none was built")


def _chargeback(con: duckdb.DuckDBPyConnection, run_key: str, mapping: dict[str, GlMapping]
                ) -> tuple[list[tuple[str, Kind, GlMapping, list[tuple[str, str | None, Decimal, str]]]], Decimal]:
    rows = con.execute(
        "SELECT source_pool, target_kind, cost_center_id, sum(posted_amount), string_agg(DISTINCT target_id, ', ')"
        " FROM allocation_result WHERE run_key = ? GROUP BY ALL ORDER BY source_pool, cost_center_id NULLS LAST",
        [run_key]).fetchall()
    unallocated = ZERO
    per_pool: dict[str, list[tuple[str, Decimal]]] = {}
    for pool, kind, cc, amount, targets in rows:
        if kind == UNALLOCATED_KIND:
            unallocated += amount
            continue
        if cc is None:
            raise AllocationError(f"pool {pool} charges {kind} {targets}, which has no cost centre to debit: no "
                                  "journal was built")
        per_pool.setdefault(pool, []).append((cc, amount))
    per_pool = {p: [(cc, a) for cc, a in v if a != 0] for p, v in per_pool.items()}
    per_pool = {p: v for p, v in per_pool.items() if v}
    missing = sorted(p for p in per_pool if p not in mapping)
    if missing:
        raise InputError(f"no GL mapping for pool {', '.join(missing)}: map it (Month close → Journals, or "
                         "engine.outputs.journals.mapping.set_mapping) before building the journal")
    out: list[tuple[str, Kind, GlMapping, list[tuple[str, str | None, Decimal, str]]]] = []
    for pool in sorted(per_pool):
        m = mapping[pool]
        lines: list[tuple[str, str | None, Decimal, str]] = [
            (m.debit_account, cc, amount, m.description) for cc, amount in per_pool[pool]]
        total = sum((a for _, a in per_pool[pool]), ZERO)
        lines.append((m.credit_account, m.credit_cost_center, -total, f"{m.description} (charged out)"))
        out.append((pool, "chargeback", m, lines))
    return out, unallocated


def _depreciation(con: duckdb.DuckDBPyConnection, period: str, mapping: dict[str, GlMapping], start_month: int
                  ) -> list[tuple[str, Kind, GlMapping, list[tuple[str, str | None, Decimal, str]]]]:
    sched = depreciation.depreciation_for_period(con, period, fiscal_year_start_month=start_month)
    if sched.is_empty() or not any(a != 0 for a in sched["depreciation"].to_list()):
        return []
    m = mapping.get(DEPRECIATION)
    if m is None:
        raise InputError(f"no GL mapping for pool {DEPRECIATION}: map it before building the journal")
    rows = depreciation.journal(sched, expense_account=m.debit_account, accumulated_account=m.credit_account,
                                unassigned_cost_centre=m.credit_cost_center or "UNASSIGNED")
    lines: list[tuple[str, str | None, Decimal, str]] = [
        (acct, cc, debit - credit, text) for _, acct, cc, debit, credit, text in rows.iter_rows()]
    return [(DEPRECIATION, "depreciation", m, lines)]


def build(con: duckdb.DuckDBPyConnection, period: str, run_key: str | None = None, *,
          settings: Settings | None = None) -> Journal:
    """The period's journal for one run (default: the locked close, else the latest posted run)."""
    s = settings or get_settings()
    key, state = resolve_run(con, period, run_key)
    rule_set, rule_version = con.execute("SELECT rule_set, rule_version FROM allocation_run WHERE run_key = ?",
                                         [key]).fetchall()[0]
    _check_currency(con, period, s.currency)
    mapping = load_mapping(con)
    raw, unallocated = _chargeback(con, key, mapping)
    raw += _depreciation(con, period, mapping, s.fiscal_year_start_month)
    reference = f"{rule_set} v{rule_version}"
    documents: list[Document] = []
    for i, (pool, kind, m, lines) in enumerate(raw, start=1):
        doc = Document(
            number=f"{key[:8].upper()}-{i:03d}", kind=kind, pool=pool, classification=m.classification,
            header_text=f"{reference} {period}",
            lines=tuple(Line(n, acct, cc, amount, text)
                        for n, (acct, cc, amount, text) in enumerate(lines, start=1)),
        )
        if doc.balance != 0:
            raise AllocationError(f"document {doc.number} ({pool}) does not balance ({doc.balance}): no journal "
                                  "was built")
        documents.append(doc)
    _, end = FiscalCalendar(s.fiscal_year_start_month, s.fiscal_period_scheme).window(period)
    return Journal(period, key, str(rule_set), int(rule_version), state, s.currency, s.company_code, s.ledger_id,
                   end - timedelta(days=1), fiscal_year_of(period, s.fiscal_year_start_month),
                   period_number(period, s.fiscal_year_start_month), tuple(documents), unallocated)
