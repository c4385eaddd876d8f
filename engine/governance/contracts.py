"""The contract register: vendor, term, committed spend, renewal date, and whether the contract provides the metrics
allocation needs — usage reports (to meter drivers), tags (to attribute), per-unit pricing (to split by quantity and
to check rates) and invoice detail (to reconcile). Procurement reads what is missing per vendor before a renewal.

Renewal reminder: a contract is due for review from `end_date − notice_days` on, until it ends. Money stays in the
contract's own currency: committed spend is never summed across currencies (totals are per currency).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta
from decimal import Decimal

import duckdb
import polars as pl

from engine.access.policy import require
from engine.access.users import User
from engine.errors import InputError
from engine.store import audit, transaction
from engine.store.sql import query

CLAUSES = {"provides_usage_reports": "usage reports", "provides_tags": "resource tags",
           "provides_unit_pricing": "per-unit pricing", "provides_invoice_detail": "invoice detail"}


@dataclass(frozen=True)
class Contract:
    vendor: str
    name: str
    start_date: date
    end_date: date
    committed_spend: Decimal
    currency: str
    provides_usage_reports: bool
    provides_tags: bool
    provides_unit_pricing: bool
    provides_invoice_detail: bool
    notice_days: int = 90
    notes: str = ""


def record(con: duckdb.DuckDBPyConnection, user: User, c: Contract) -> int:
    require(user, "manage_contracts", "record a contract")
    if not c.vendor.strip() or not c.name.strip():
        raise InputError("a contract needs a vendor and a name")
    if c.end_date <= c.start_date:
        raise InputError(f"the contract ends ({c.end_date}) on or before it starts ({c.start_date})")
    if c.committed_spend < 0:
        raise InputError("committed spend cannot be negative")
    if len(c.currency) != 3 or not c.currency.isalpha() or not c.currency.isupper():
        raise InputError(f"currency must be an ISO 4217 code such as USD, not {c.currency!r}")
    if not 0 <= c.notice_days <= 730:
        raise InputError("notice days must be between 0 and 730")
    with transaction(con):
        no = int(con.execute(
            "INSERT INTO contract (vendor, name, start_date, end_date, committed_spend, currency, notice_days,"
            " provides_usage_reports, provides_tags, provides_unit_pricing, provides_invoice_detail, notes,"
            " recorded_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING contract_no",
            [c.vendor.strip(), c.name.strip(), c.start_date, c.end_date, c.committed_spend, c.currency,
             c.notice_days, c.provides_usage_reports, c.provides_tags, c.provides_unit_pricing,
             c.provides_invoice_detail, c.notes.strip() or None, user.username]).fetchall()[0][0])
        audit.record(con, user.username, "contract.record", "contract", str(no),
                     {k: str(v) for k, v in asdict(c).items()})
    return no


def register(con: duckdb.DuckDBPyConnection, today: date | None = None) -> pl.DataFrame:
    """Every contract with its review date, days to renewal and the allocation clauses it lacks."""
    today = today or date.today()
    frame = query(con, "SELECT * FROM contract ORDER BY end_date, vendor")
    if frame.is_empty():
        return frame
    review = [e - timedelta(days=int(n)) for e, n in frame.select("end_date", "notice_days").iter_rows()]
    missing = [", ".join(label for col, label in CLAUSES.items() if not row[col])
               for row in frame.iter_rows(named=True)]
    return frame.with_columns(
        pl.Series("review_from", review, dtype=pl.Date),
        pl.Series("days_to_end", [(e - today).days for e in frame["end_date"]], dtype=pl.Int64),
        pl.Series("missing_for_allocation", missing, dtype=pl.String),
    ).with_columns(renewal_due=(pl.col("review_from") <= today) & (pl.col("end_date") >= today))


def renewals_due(con: duckdb.DuckDBPyConnection, today: date | None = None) -> pl.DataFrame:
    reg = register(con, today)
    return reg if reg.is_empty() else reg.filter(pl.col("renewal_due"))


def missing_by_vendor(con: duckdb.DuckDBPyConnection, today: date | None = None) -> pl.DataFrame:
    """Per vendor, the clauses none of its contracts in force provides (what to ask for at the next renewal)."""
    today = today or date.today()
    reg = register(con, today)
    rows = []
    if not reg.is_empty():
        live = reg.filter(pl.col("end_date") >= today)
        for vendor in sorted(set(live["vendor"].to_list())):
            part = live.filter(pl.col("vendor") == vendor)
            lacking = [label for col, label in CLAUSES.items() if not any(part[col].to_list())]
            rows.append({"vendor": vendor, "contracts": part.height, "missing": ", ".join(lacking) or "none"})
    return pl.DataFrame(rows, schema={"vendor": pl.String, "contracts": pl.Int64, "missing": pl.String})


def committed_by_currency(con: duckdb.DuckDBPyConnection) -> dict[str, Decimal]:
    """Committed spend of the contracts in force, per currency (never summed across currencies)."""
    rows = con.execute("SELECT currency, sum(committed_spend) FROM contract WHERE end_date >= current_date"
                       " GROUP BY 1 ORDER BY 1").fetchall()
    return {str(c): Decimal(a) for c, a in rows}
