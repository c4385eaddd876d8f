"""Invoice disputes with the vendor: opened from a variance between billed cost and an invoice total.

Not to be confused with charge disputes (an application owner disputing a statement line, engine/improvement/).
An invoice dispute records vendor, invoice, amount claimed, reason and a status that moves
``open → sent → credited | rejected`` (or ``withdrawn`` before it is settled); each change is audited. The amount
defaults to what the vendor invoiced above the billed cost (invoice − billed) and may not exceed the invoice total.
One invoice has at most one unsettled dispute, so a double click cannot claim the same money twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

import duckdb
import polars as pl

from engine.access import policy
from engine.access.users import User
from engine.costmodels.pricing import to_cents
from engine.errors import InputError, NotFound
from engine.reconcile.invoices import NO_INVOICE_ID
from engine.store import audit, transaction
from engine.store.sql import query

STATUSES = ("open", "sent", "credited", "rejected", "withdrawn")
SETTLED = ("credited", "rejected", "withdrawn")
NEXT: dict[str, tuple[str, ...]] = {"open": ("sent", "withdrawn"), "sent": ("credited", "rejected", "withdrawn")}


@dataclass(frozen=True)
class InvoiceDispute:
    dispute_id: int
    invoice_id: str
    vendor: str
    billing_period: str
    amount: Decimal
    currency: str
    billed: Decimal | None
    invoice_total: Decimal
    reason: str
    status: str
    credit_amount: Decimal | None
    resolution: str | None
    opened_by: str
    opened_at: datetime


_COLUMNS = ("dispute_id, invoice_id, vendor, billing_period, amount, currency, billed, invoice_total, reason, status,"
            " credit_amount, resolution, opened_by, opened_at")


def parse_amount(text: str, what: str = "amount") -> Decimal:
    """An amount typed by a person ("1,234.50") as exact cents; anything else is an InputError naming `what`."""
    try:
        value = Decimal(text.strip().replace(",", ""))
    except InvalidOperation:
        raise InputError(f"{what}: {text!r} is not a number") from None
    if not value.is_finite():
        raise InputError(f"{what}: {text!r} is not a finite amount")
    return to_cents(value)


def suggested_amount(billed: Decimal | None, invoice_total: Decimal) -> Decimal:
    """What the vendor invoiced above what the billing data shows (0 when it invoiced less or the same)."""
    return max(invoice_total - (billed or Decimal(0)), Decimal("0.00"))


def get(con: duckdb.DuckDBPyConnection, dispute_id: int) -> InvoiceDispute:
    rows = con.execute(f"SELECT {_COLUMNS} FROM invoice_dispute WHERE dispute_id = ?", [dispute_id]).fetchall()
    if not rows:
        raise NotFound(f"no invoice dispute {dispute_id}")
    r = rows[0]
    return InvoiceDispute(int(r[0]), r[1], r[2], r[3], Decimal(r[4]), r[5], None if r[6] is None else Decimal(r[6]),
                          Decimal(r[7]), r[8], r[9], None if r[10] is None else Decimal(r[10]), r[11], r[12], r[13])


def open_dispute(con: duckdb.DuckDBPyConnection, user: User, invoice_id: str, vendor: str, amount: Decimal,
                 reason: str) -> InvoiceDispute:
    """Open a dispute about an entered invoice (finops/admin). The billed cost is read now, from the store, so the
    dispute records the variance it was opened from whatever the screen showed."""
    policy.require(user, "manage_invoices", "open an invoice dispute")
    if not reason.strip():
        raise InputError("a dispute needs a reason the vendor can act on")
    inv = con.execute("SELECT billing_period, total, currency FROM invoice WHERE invoice_id = ? AND vendor = ?",
                      [invoice_id, vendor]).fetchall()
    if not inv:
        raise NotFound(f"no invoice {invoice_id} from {vendor} has been entered")
    period, total, currency = inv[0][0], Decimal(inv[0][1]), inv[0][2]
    amount = to_cents(amount)
    if amount <= 0:
        raise InputError("the disputed amount must be positive")
    if amount > total:
        raise InputError(f"the disputed amount {amount:,.2f} exceeds the invoice total {total:,.2f}")
    billed_row = con.execute(
        "SELECT CAST(round(sum(billed_cost), 2) AS DECIMAL(18, 2)) FROM cost_line WHERE billing_period = ?"
        " AND provider = ? AND coalesce(invoice_id, ?) = ?", [period, vendor, NO_INVOICE_ID, invoice_id]).fetchall()
    billed = None if billed_row[0][0] is None else Decimal(billed_row[0][0])
    with transaction(con):
        live = con.execute("SELECT dispute_id FROM invoice_dispute WHERE invoice_id = ? AND vendor = ?"
                           f" AND status NOT IN {SETTLED}", [invoice_id, vendor]).fetchall()
        if live:
            raise InputError(f"invoice {invoice_id} from {vendor} already has dispute #{live[0][0]} in progress")
        new_id = int(con.execute(
            "INSERT INTO invoice_dispute (invoice_id, vendor, billing_period, amount, currency, billed, invoice_total,"
            " reason, status, opened_by, updated_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, ?)"
            " RETURNING dispute_id",
            [invoice_id, vendor, period, amount, currency, billed, total, reason.strip(), user.username,
             user.username]).fetchall()[0][0])
        audit.record(con, user.username, "invoice_dispute.open", "invoice_dispute", str(new_id),
                     {"invoice": f"{vendor}/{invoice_id}", "period": period, "amount": str(amount),
                      "currency": currency, "billed": None if billed is None else str(billed),
                      "invoice_total": str(total), "reason": reason.strip()})
    return get(con, new_id)


def move(con: duckdb.DuckDBPyConnection, user: User, dispute_id: int, status: str, note: str = "",
         credit_amount: Decimal | None = None) -> InvoiceDispute:
    """Move a dispute on (sent to the vendor, credited, rejected, withdrawn); a credit names its amount."""
    policy.require(user, "manage_invoices", "update an invoice dispute")
    d = get(con, dispute_id)
    if status not in NEXT.get(d.status, ()):
        allowed = ", ".join(NEXT.get(d.status, ())) or "nothing (it is settled)"
        raise InputError(f"dispute #{dispute_id} is {d.status}: it can move to {allowed}, not {status}")
    credit = None
    if status == "credited":
        if credit_amount is None or to_cents(credit_amount) <= 0:
            raise InputError("a credit needs the amount the vendor credited")
        credit = to_cents(credit_amount)
        if credit > d.invoice_total:
            raise InputError(f"a credit of {credit:,.2f} exceeds the invoice total {d.invoice_total:,.2f}")
    if status in ("rejected", "withdrawn") and not note.strip():
        raise InputError(f"say why the dispute is {status}")
    with transaction(con):
        con.execute("UPDATE invoice_dispute SET status = ?, credit_amount = coalesce(?, credit_amount),"
                    " resolution = coalesce(nullif(?, ''), resolution), updated_by = ?, updated_at = current_timestamp"
                    " WHERE dispute_id = ?", [status, credit, note.strip(), user.username, dispute_id])
        audit.record(con, user.username, f"invoice_dispute.{status}", "invoice_dispute", str(dispute_id),
                     {"from": d.status, "to": status, "note": note.strip(),
                      "credit_amount": None if credit is None else str(credit)})
    return get(con, dispute_id)


def list_disputes(con: duckdb.DuckDBPyConnection, billing_period: str | None = None) -> pl.DataFrame:
    where, params = ("WHERE billing_period = ?", [billing_period]) if billing_period else ("", [])
    return query(con, f"SELECT {_COLUMNS} FROM invoice_dispute {where} ORDER BY dispute_id DESC", params)


def with_disputes(con: duckdb.DuckDBPyConnection, validation: pl.DataFrame) -> pl.DataFrame:
    """The validation frame with each invoice's latest dispute (id and status), for the variance table."""
    latest = query(con, "SELECT invoice_id, vendor, dispute_id, status AS dispute_status FROM invoice_dispute"
                        " QUALIFY row_number() OVER (PARTITION BY invoice_id, vendor ORDER BY dispute_id DESC) = 1")
    return validation.join(latest, on=["invoice_id", "vendor"], how="left", maintain_order="left")
