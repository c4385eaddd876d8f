"""Rate files: the ECB wide layout (engine/fx/ecb.py) or the long layout `period,currency,rate` (rate = reporting
currency units per 1 unit of `currency`, as stored). The layout is named or recognised from the header; a bad
file is refused whole with file, row, column and what was expected (nothing of it is stored)."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal, InvalidOperation
from typing import Literal

from engine.errors import InputError
from engine.fx import ecb
from engine.fx.ecb import MonthlyRate
from engine.ingest.contract.currencies import ISO_4217

Layout = Literal["ecb", "long"]
LONG_HEADER = ("period", "currency", "rate")
PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
MAX_RATE = Decimal("1e8")    # a rate this large is a unit or column error (and could overflow a converted amount)
MAX_BYTES = 50 * 1024 * 1024


def parse(data: bytes, file_name: str, reporting: str,
          layout: Layout | None = None) -> tuple[Layout, list[MonthlyRate]]:
    """The monthly rates a file holds, in `reporting` units per 1 unit of each currency."""
    if len(data) > MAX_BYTES:
        raise InputError(f"{file_name}: expected a rates file below {MAX_BYTES // (1024 * 1024)} MB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{file_name}: expected UTF-8 text (byte {exc.start} is not)") from None
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows or not any(c.strip() for c in rows[0]):
        raise InputError(f"{file_name}: row 1: expected a header (Date,USD,JPY,… for the ECB layout or "
                         "period,currency,rate)")
    found: Layout | None = ("ecb" if ecb.is_ecb_header(rows[0]) else
                            "long" if tuple(h.strip().lower() for h in rows[0][:3]) == LONG_HEADER else None)
    chosen = layout or found
    if chosen is None or chosen != found:
        want = "Date,USD,JPY,… (ECB reference rates)" if chosen == "ecb" else (
            "period,currency,rate" if chosen == "long" else "Date,USD,JPY,… (ECB) or period,currency,rate")
        got = ",".join(rows[0])[:80]
        raise InputError(f"{file_name}: row 1: expected the header {want}, got '{got}'")
    if chosen == "ecb":
        rates = ecb.to_reporting(ecb.monthly_means(rows, file_name), reporting)
    else:
        rates = _long(rows, file_name, reporting)
    if not rates:
        raise InputError(f"{file_name}: expected at least one rate (the file has none"
                         + (f" with a published {reporting} rate)" if chosen == "ecb" else ")"))
    return chosen, rates


def _long(rows: list[list[str]], file_name: str, reporting: str) -> list[MonthlyRate]:
    out: dict[tuple[str, str], MonthlyRate] = {}
    seen: dict[tuple[str, str], int] = {}
    for n, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        cells = [c.strip() for c in row] + [""] * 3
        period, currency, rate_text = cells[0], cells[1].upper(), cells[2]
        if not PERIOD.match(period):
            raise InputError(f"{file_name}: row {n}, column 'period': expected a period YYYY-MM, got '{period[:40]}'")
        if currency not in ISO_4217:
            raise InputError(f"{file_name}: row {n}, column 'currency': expected an ISO 4217 currency code, "
                             f"got '{cells[1][:20]}'")
        if currency == reporting:
            raise InputError(f"{file_name}: row {n}, column 'currency': expected a currency other than the "
                             f"reporting currency {reporting} (its rate is 1)")
        rate = check_rate(rate_text)
        if rate is None:
            raise InputError(f"{file_name}: row {n}, column 'rate': expected a rate above 0 and below "
                             f"{MAX_RATE:,.0f} ({reporting} per 1 {currency}), got '{rate_text[:40]}'")
        if (period, currency) in seen:
            raise InputError(f"{file_name}: row {n}: expected one rate per period and currency ({currency} "
                             f"{period} is also on row {seen[(period, currency)]})")
        seen[(period, currency)] = n
        out[(period, currency)] = MonthlyRate(period, currency, rate)
    return list(out.values())


def check_rate(text: str) -> Decimal | None:
    """A rate as stored (10 decimals, exact), or None when it is not a positive number below MAX_RATE or has more
    than 10 decimals of meaning (a rate is never silently rounded)."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return None
    if not value.is_finite() or value <= 0 or value >= MAX_RATE:
        return None
    q = value.quantize(ecb.QUANTUM)
    return q if q == value else None
