"""Invoice validation: the billed cost we loaded, per invoice, against the totals the vendor actually invoiced.

Chargeback is only credible if what we allocate reconciles to what accounts payable paid. Billing exports and
invoices drift (late credits, tax, a missing day of data), so every invoice is compared with a tolerance and the
allocated total of a run is shown against the invoice totals of its period.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import duckdb
import polars as pl

from engine.access import policy
from engine.access.users import User
from engine.costmodels.pricing import to_cents
from engine.errors import InputError, NotFound
from engine.settings import get_settings
from engine.store import audit, transaction
from engine.store.sql import query

MONEY = pl.Decimal(18, 2)
UPLOAD_COLUMNS = ["invoice_id", "vendor", "billing_period", "total", "currency"]
NO_INVOICE_ID = "(no invoice id)"


@dataclass(frozen=True)
class Tolerance:
    """A variance is flagged when it exceeds both the absolute amount and the percentage of the invoice: small
    rounding on a big invoice and a few cents on a tiny one are both noise."""

    abs_amount: Decimal = Decimal("1.00")
    pct: Decimal = Decimal("0.5")

    def exceeded(self, variance: Decimal, invoice_total: Decimal) -> bool:
        return abs(variance) > self.abs_amount and abs(variance) > abs(invoice_total) * self.pct / 100


def _period_ok(p: str) -> bool:
    return len(p) == 7 and p[4] == "-" and (p[:4] + p[5:]).isdigit() and 1 <= int(p[5:]) <= 12


def record_invoice(con: duckdb.DuckDBPyConnection, invoice_id: str, vendor: str, billing_period: str,
                   total: Decimal, currency: str, actor: str, source: str = "manual") -> None:
    """Enter (or correct) one invoice total; a correction replaces the earlier figure and both are audited."""
    if not invoice_id.strip() or not vendor.strip():
        raise InputError("invoice id and vendor are required")
    if not _period_ok(billing_period):
        raise InputError(f"billing period must be YYYY-MM, not {billing_period!r}")
    with transaction(con):
        _write(con, invoice_id, vendor, billing_period, total, currency, actor, source)


def _write(con: duckdb.DuckDBPyConnection, invoice_id: str, vendor: str, billing_period: str, total: Decimal,
           currency: str, actor: str, source: str) -> None:
    old = con.sql("SELECT total FROM invoice WHERE invoice_id = ? AND vendor = ?",
                  params=[invoice_id, vendor]).fetchall()
    con.execute("DELETE FROM invoice WHERE invoice_id = ? AND vendor = ?", [invoice_id, vendor])
    con.execute("INSERT INTO invoice (invoice_id, vendor, billing_period, total, currency, source, entered_by)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [invoice_id, vendor, billing_period, to_cents(total), currency, source, actor])
    audit.record(con, actor, "invoice.enter", "invoice", f"{vendor}/{invoice_id}",
                 {"period": billing_period, "total": str(to_cents(total)), "currency": currency,
                  "previous": str(old[0][0]) if old else None, "source": source})


@dataclass(frozen=True)
class UploadResult:
    accepted: int
    errors: list[str]


def load_invoices_csv(con: duckdb.DuckDBPyConnection, data: bytes, actor: str,
                      file_name: str = "upload") -> UploadResult:
    """Upload invoice totals (invoice_id, vendor, billing_period, total, currency). A wrong header rejects the file;
    a bad row is reported by row number and column and the good rows are kept."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{file_name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in UPLOAD_COLUMNS if c not in header]
    if missing:
        raise InputError(f"{file_name}: missing column(s) {', '.join(missing)}; expected {', '.join(UPLOAD_COLUMNS)}")
    reader.fieldnames = header
    errors: list[str] = []
    good: list[tuple[str, str, str, Decimal, str]] = []
    for n, row in enumerate(reader, start=1):
        vals = {k: (row.get(k) or "").strip() for k in UPLOAD_COLUMNS}
        try:
            total = Decimal(vals["total"].replace(",", ""))
        except InvalidOperation:
            errors.append(f"{file_name} row {n}, column total: {vals['total']!r} is not a number")
            continue
        if not total.is_finite():
            errors.append(f"{file_name} row {n}, column total: {vals['total']!r} is not a finite amount")
            continue
        if not _period_ok(vals["billing_period"]):
            errors.append(f"{file_name} row {n}, column billing_period: expected YYYY-MM,"
                          f" got {vals['billing_period']!r}")
            continue
        if not vals["invoice_id"] or not vals["vendor"] or not vals["currency"]:
            errors.append(f"{file_name} row {n}: invoice_id, vendor and currency are required")
            continue
        good.append((vals["invoice_id"], vals["vendor"], vals["billing_period"], total, vals["currency"].upper()))
    with transaction(con):
        for invoice_id, vendor, period, total, currency in good:
            _write(con, invoice_id, vendor, period, total, currency, actor, "upload")
    return UploadResult(len(good), errors)


def validate(con: duckdb.DuckDBPyConnection, billing_period: str, tolerance: Tolerance | None = None) -> pl.DataFrame:
    """Billed cost per invoice id, vendor and billing currency for a month (the amounts the bill itself carries,
    `billed_cost_billing`, never converted) against the entered invoice totals in the same currency — an invoice in
    another currency than the lines is no match, never a sum across currencies — with a status each:
    ok, variance (beyond tolerance), no_invoice (billing with no invoice entered), no_billing (invoice with no
    billing lines)."""
    tol = tolerance or Tolerance()
    frame = query(
        con,
        """
        WITH billed AS (
            SELECT coalesce(invoice_id, ?) AS invoice_id, provider AS vendor, billing_period,
                   billing_currency AS currency, round(sum(coalesce(billed_cost_billing, billed_cost)), 2) AS billed,
                   count(*) AS lines
            FROM cost_line WHERE billing_period = ? GROUP BY ALL
        ), inv AS (
            SELECT invoice_id, vendor, billing_period, currency, total FROM invoice WHERE billing_period = ?
        )
        SELECT coalesce(b.invoice_id, i.invoice_id) AS invoice_id, coalesce(b.vendor, i.vendor) AS vendor,
               coalesce(b.billing_period, i.billing_period) AS billing_period,
               coalesce(i.currency, b.currency) AS currency, coalesce(b.lines, 0) AS lines,
               CAST(b.billed AS DECIMAL(18, 2)) AS billed, i.total AS invoice_total
        FROM billed b FULL JOIN inv i ON b.invoice_id = i.invoice_id AND b.vendor = i.vendor
             AND b.currency = i.currency
        ORDER BY vendor, invoice_id
        """,
        [NO_INVOICE_ID, billing_period, billing_period],
    )
    statuses: list[str] = []
    variances: list[Decimal | None] = []
    for billed, total in frame.select("billed", "invoice_total").iter_rows():
        if total is None:
            statuses.append("no_invoice")
            variances.append(None)
        elif billed is None:
            statuses.append("no_billing")
            variances.append(-total)
        else:
            v = billed - total
            variances.append(v)
            statuses.append("variance" if tol.exceeded(v, total) else "ok")
    return frame.with_columns(
        pl.Series("variance", variances, dtype=MONEY),
        pl.Series("status", statuses, dtype=pl.String),
    ).with_columns(
        pl.when(pl.col("invoice_total").is_not_null() & (pl.col("invoice_total") != 0))
        .then(pl.col("variance").cast(pl.Float64) / pl.col("invoice_total").cast(pl.Float64) * 100)
        .otherwise(None).alias("variance_pct")
    )


@dataclass(frozen=True)
class AllocatedVsInvoice:
    """What a statement prints under its totals: the run's allocated total against what was invoiced."""

    period: str
    basis: str
    allocated_total: Decimal
    billed_total: Decimal
    invoice_total: Decimal | None
    invoices_entered: int
    difference: Decimal | None

    def describe(self) -> str:
        if self.invoice_total is None:
            return (f"Allocated {self.allocated_total:,.2f} ({self.basis} cost) for {self.period}; "
                    "no invoice totals entered for this period yet.")
        plural = "" if self.invoices_entered == 1 else "s"
        return (f"Allocated {self.allocated_total:,.2f} ({self.basis} cost) vs invoiced {self.invoice_total:,.2f} "
                f"({self.invoices_entered} invoice{plural}): difference {self.difference:,.2f}.")


def allocated_vs_invoice(con: duckdb.DuckDBPyConnection, run_key: str) -> AllocatedVsInvoice:
    """The run's posted total against the invoices of its period in the reporting currency. On the effective
    (amortised) basis a difference is expected (upfront commitments are spread); on the billed basis it should be
    within tolerance."""
    run = con.sql("SELECT period, basis FROM allocation_run WHERE run_key = ?", params=[run_key]).fetchall()
    if not run:
        raise NotFound(f"no allocation run {run_key!r}")
    period, basis = run[0]
    allocated = con.sql("SELECT coalesce(sum(posted_amount), 0) FROM allocation_result WHERE run_key = ?",
                        params=[run_key]).fetchall()[0][0]
    billed = con.sql("SELECT coalesce(round(sum(billed_cost), 2), 0) FROM cost_line WHERE billing_period = ?",
                     params=[period]).fetchall()[0][0]
    # the run is in the reporting currency: only invoices in it are comparable (others are validated per currency)
    inv_total, n = con.sql("SELECT sum(total), count(*) FROM invoice WHERE billing_period = ? AND currency = ?",
                           params=[period, get_settings().currency]).fetchall()[0]
    diff = None if inv_total is None else Decimal(allocated) - Decimal(inv_total)
    return AllocatedVsInvoice(period, basis, Decimal(allocated), to_cents(Decimal(billed)),
                              None if inv_total is None else Decimal(inv_total), int(n), diff)


def enter_invoice(con: duckdb.DuckDBPyConnection, user: User | None, invoice_id: str, vendor: str,
                  billing_period: str, total: Decimal, currency: str) -> None:
    """`record_invoice` for a signed-in user: only roles that may manage invoices (finops, admin) enter totals."""
    policy.require(user, "manage_invoices", "enter an invoice total")
    assert user is not None
    record_invoice(con, invoice_id, vendor, billing_period, total, currency, user.username)


def upload_invoices(con: duckdb.DuckDBPyConnection, user: User | None, data: bytes,
                    file_name: str = "upload") -> UploadResult:
    """`load_invoices_csv` for a signed-in user who may manage invoices."""
    policy.require(user, "manage_invoices", "upload invoice totals")
    assert user is not None
    return load_invoices_csv(con, data, user.username, file_name)
