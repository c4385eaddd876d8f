"""The rate table (`fx_rate`, migration 0025): rates in force, their history, and every change versioned and
audited. A new rate for the same reporting currency, period and currency supersedes the one in force (kept, with
when and by whom it was superseded); the same rate again changes nothing. Only roles with `manage_fx` change rates
(checked here, whatever the page or CLI offered)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal

import duckdb
import polars as pl

from engine.access import policy
from engine.access.users import User
from engine.errors import InputError
from engine.fx import files
from engine.fx.ecb import QUANTUM, MonthlyRate
from engine.fx.files import Layout
from engine.ingest.contract.currencies import ISO_4217
from engine.settings import get_settings
from engine.store import audit, transaction
from engine.store.sql import query

MISSING_REASON = r"^no FX rate for ([A-Z]{3}) in ([0-9]{4}-[0-9]{2}) "


@dataclass(frozen=True)
class Stored:
    """What a load or an entry changed: new (period, currency) pairs, superseded rates, identical ones skipped."""

    added: int
    superseded: int
    unchanged: int
    layout: str = "manual"

    def describe(self) -> str:
        return (f"{self.added} new rate(s), {self.superseded} superseding the rate in force, "
                f"{self.unchanged} unchanged")


def reporting_currency() -> str:
    return get_settings().currency


def in_force(con: duckdb.DuckDBPyConnection, reporting: str | None = None) -> dict[tuple[str, str], Decimal]:
    """(period, currency) → the rate in force for the reporting currency (the setting unless named)."""
    cur = reporting or reporting_currency()
    rows = con.execute("SELECT period, currency, rate FROM fx_rate WHERE reporting_currency = ? "
                       "AND superseded_at IS NULL", [cur]).fetchall()
    return {(str(p), str(c)): Decimal(r) for p, c, r in rows}


def table(con: duckdb.DuckDBPyConnection, *, period: str | None = None, history: bool = False,
          reporting: str | None = None) -> pl.DataFrame:
    """Rates for the reporting currency, newest period first; `history` adds the superseded versions."""
    where = ["reporting_currency = ?"]
    params: list[object] = [reporting or reporting_currency()]
    if period:
        where.append("period = ?")
        params.append(period)
    if not history:
        where.append("superseded_at IS NULL")
    return query(con, "SELECT period, currency, rate, reporting_currency, version, source, entered_by, entered_at, "
                      "superseded_at, superseded_by, superseded_at IS NULL AS in_force FROM fx_rate "
                      f"WHERE {' AND '.join(where)} ORDER BY period DESC, currency, version DESC", params)


def store_rates(con: duckdb.DuckDBPyConnection, actor: str, rates: list[MonthlyRate], source: str,
                reporting: str | None = None, detail: dict[str, object] | None = None) -> Stored:
    """Write rates (one transaction, one audit event listing what changed). Call through `set_rate` or
    `load_file`, which check the user's role."""
    cur = reporting or reporting_currency()
    current = in_force(con, cur)
    versions = {(str(p), str(c)): int(v) for p, c, v in con.execute(
        "SELECT period, currency, max(version) FROM fx_rate WHERE reporting_currency = ? GROUP BY ALL",
        [cur]).fetchall()}
    added = superseded = unchanged = 0
    changes: list[list[str]] = []
    with transaction(con):
        for r in rates:
            key = (r.period, r.currency)
            old = current.get(key)
            if old is not None and old == r.rate:
                unchanged += 1
                continue
            if old is not None:
                con.execute("UPDATE fx_rate SET superseded_at = current_timestamp, superseded_by = ? "
                            "WHERE reporting_currency = ? AND period = ? AND currency = ? AND superseded_at IS NULL",
                            [actor, cur, r.period, r.currency])
                superseded += 1
            else:
                added += 1
            version = versions.get(key, 0) + 1
            con.execute("INSERT INTO fx_rate (reporting_currency, period, currency, rate, version, source, "
                        "entered_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [cur, r.period, r.currency, r.rate, version, source, actor])
            changes.append([r.period, r.currency, str(old) if old is not None else "",
                            str(r.rate.quantize(QUANTUM)), str(version)])
        if changes:
            audit.record(con, actor, "fx.rates", "fx_rate", source, {
                **(detail or {}), "reporting_currency": cur, "added": added, "superseded": superseded,
                "unchanged": unchanged,
                # period, currency, old rate, new rate, version (every change, so the trail alone rebuilds the table)
                "changes": changes,
            })
    return Stored(added, superseded, unchanged)


def set_rate(con: duckdb.DuckDBPyConnection, user: User | None, period: str, currency: str,
             rate: Decimal | str) -> Stored:
    """Enter one rate (reporting-currency units per 1 unit of `currency`) for a month."""
    policy.require(user, "manage_fx", "enter an FX rate")
    assert user is not None
    reporting = reporting_currency()
    code = str(currency).strip().upper()
    if not files.PERIOD.match(str(period).strip()):
        raise InputError(f"period: expected YYYY-MM, got '{str(period)[:40]}'")
    if code not in ISO_4217:
        raise InputError(f"currency: expected an ISO 4217 currency code, got '{str(currency)[:20]}'")
    if code == reporting:
        raise InputError(f"currency: {code} is the reporting currency (its rate is 1 by definition)")
    value = files.check_rate(str(rate))
    if value is None:
        raise InputError(f"rate: expected a number above 0 and below {files.MAX_RATE:,.0f} with at most 10 "
                         f"decimals ({reporting} per 1 {code}), got '{str(rate)[:40]}'")
    return store_rates(con, user.username, [MonthlyRate(str(period).strip(), code, value)], "manual", reporting)


def load_file(con: duckdb.DuckDBPyConnection, user: User | None, data: bytes, file_name: str,
              layout: Layout | None = None) -> Stored:
    """Load a rates file (ECB wide layout or `period,currency,rate`); refused whole on the first bad cell."""
    policy.require(user, "manage_fx", "load FX rates")
    assert user is not None
    reporting = reporting_currency()
    chosen, rates = files.parse(data, file_name, reporting, layout)
    stored = store_rates(con, user.username, rates, f"{chosen}:{file_name}", reporting,
                         {"file": file_name, "sha256": hashlib.sha256(data).hexdigest(), "layout": chosen})
    return Stored(stored.added, stored.superseded, stored.unchanged, chosen)


def missing(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Currencies and periods that still lack a rate, so the user knows what to load: lines quarantined for a
    missing rate (and no rate in force for them since), and loaded lines not in the reporting currency (loaded
    before their rate existed, or before FX: load the rate, then roll back and re-load the file)."""
    reporting = reporting_currency()
    return query(con, f"""
        WITH q AS (
            SELECT regexp_extract(reason, '{MISSING_REASON}', 1) AS currency,
                   regexp_extract(reason, '{MISSING_REASON}', 2) AS period, count(*) AS lines
            FROM quarantine_row r JOIN ingest_batch b USING (batch_id)
            WHERE b.status = 'loaded' AND regexp_matches(reason, '{MISSING_REASON}') GROUP BY ALL
        ), l AS (
            SELECT billing_currency AS currency, billing_period AS period, count(*) AS lines FROM cost_line
            WHERE coalesce(reporting_currency, billing_currency) <> ? GROUP BY ALL
        )
        SELECT period, currency, 'quarantined' AS lines_are, lines FROM q
        WHERE NOT EXISTS (SELECT 1 FROM fx_rate f WHERE f.reporting_currency = ? AND f.superseded_at IS NULL
                          AND f.period = q.period AND f.currency = q.currency)
        UNION ALL
        SELECT period, currency, 'loaded, not converted' AS lines_are, lines FROM l
        ORDER BY period DESC, currency, lines_are
        """, [reporting, reporting])
