"""Chargeback statements: what one cost centre is charged for a period, and why, as CSV, XLSX and printable HTML.

A statement is what an app owner disputes and what an auditor re-derives, so it carries everything needed to do
that: the run key, rule set and version, the scenario and version, every allocated line by step and service, each
scenario adjustment as its own line, totals, last month's amount and the change per line and in total, and the
cost centre's open anomalies. The run's organisation-wide allocated total against the period's invoices is added
only for callers who see the whole organisation (docs/statements.md).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import duckdb
import polars as pl

from engine.access.users import User
from engine.allocation.adjustments import POOL_PREFIX as DISPUTE_POOL
from engine.allocation.runs import latest_run
from engine.costmodels.scenarios import Scenario, apply_scenario, load_allocated
from engine.errors import InputError, NotFound
from engine.insights.anomalies import workflow
from engine.insights.anomalies.monthly import add_months, month_start
from engine.insights.workshop import idle_base
from engine.outputs.exports import to_csv_bytes, to_xlsx_bytes
from engine.reconcile.invoices import AllocatedVsInvoice, allocated_vs_invoice

MONEY = pl.Decimal(18, 2)
LINE_SCHEMA = pl.Schema({
    "section": pl.String(), "step": pl.Int64(), "step_name": pl.String(), "service": pl.String(),
    "source_pool": pl.String(), "method": pl.String(), "driver": pl.String(), "app_id": pl.String(), "amount": MONEY,
})
LINE_KEY = ("section", "step", "step_name", "service", "source_pool", "method", "driver", "app_id")
STATEMENT_SCHEMA = pl.Schema({**LINE_SCHEMA, "prior_amount": MONEY, "change": MONEY})
FLAG_SCHEMA = pl.Schema({"anomaly_id": pl.String(), "title": pl.String(), "status": pl.String(), "excess": MONEY})
ZERO = Decimal("0.00")
DISPUTE_SECTION = "dispute_adjustment"   # an accepted dispute posted in this run (allocation/adjustments.py)


@dataclass(frozen=True)
class PriorMonth:
    """The calendar month before the statement's, from its latest posted run under the same scenario.

    Without a posted run every figure is None (not zero): there is nothing to compare with."""

    period: str
    run_key: str | None = None
    rule_set: str | None = None
    rule_version: int | None = None
    allocated: Decimal | None = None
    charge: Decimal | None = None
    invoiced: Decimal | None = None
    reason: str = "no posted allocation run"    # why there are no figures, when there are none

    @property
    def posted(self) -> bool:
        return self.run_key is not None


@dataclass(frozen=True)
class Statement:
    run_key: str
    period: str
    cost_center_id: str
    cost_center_name: str
    business_unit_id: str | None
    business_unit_name: str | None
    rule_set: str
    rule_version: int
    basis: str
    scenario: Scenario
    lines: pl.DataFrame              # STATEMENT_SCHEMA: each line with last month's amount and the change
    allocated: Decimal
    subsidy: Decimal
    markup: Decimal
    penalty: Decimal
    rate_variance: Decimal
    charge: Decimal
    invoiced: Decimal
    prior: PriorMonth
    reconciliation: AllocatedVsInvoice | None   # organisation-wide: only for callers who see the whole organisation
    flags: pl.DataFrame | None                  # FLAG_SCHEMA: active anomalies of the cost centre; None: not read
    generated_at: datetime

    @property
    def scenario_label(self) -> str:
        v = f" v{self.scenario.version}" if self.scenario.version else " (unsaved)"
        return f"{self.scenario.name}{v} — {self.scenario.model.replace('_', ' ')}"

    @property
    def charge_change(self) -> Decimal | None:
        return None if self.prior.charge is None else self.charge - self.prior.charge

    def prior_line(self) -> str:
        p = self.prior
        if not p.posted or p.charge is None or p.run_key is None:
            return f"Prior month {p.period}: {p.reason}, so no prior-month figures."
        return (f"Prior month {p.period}: charge {p.charge:,.2f}, change {self.charge - p.charge:+,.2f} "
                f"(rule set {p.rule_set} v{p.rule_version} · run {p.run_key[:16]})")

    def header_lines(self) -> list[str]:
        """What heads every format. The organisation's reconciliation line only when it was built for a caller who
        sees the whole organisation (engine.access.statement_access decides)."""
        bu = (f" · {self.business_unit_name} ({self.business_unit_id})"
              if self.business_unit_id and self.business_unit_id != self.cost_center_id else
              " · business unit, all its cost centres" if self.business_unit_id else "")
        lines = [
            f"Chargeback statement — {self.cost_center_name} ({self.cost_center_id}){bu}",
            f"Period {self.period} · scenario {self.scenario_label}",
            f"Rule set {self.rule_set} v{self.rule_version} · {self.basis} cost · run {self.run_key[:16]}",
            self.prior_line(),
        ]
        if self.reconciliation is not None:
            lines.append(self.reconciliation.describe())
        return lines

    @property
    def flag_count(self) -> int:
        return 0 if self.flags is None else self.flags.height

    @property
    def flag_amount(self) -> Decimal:
        return ZERO if self.flags is None or not self.flags.height else Decimal(self.flags["excess"].sum())

    def flag_lines(self) -> list[str]:
        """The "Open anomalies" block: count and amount over expected, then one title per incident."""
        if self.flags is None:
            return []
        if not self.flags.height:
            return [f"Open anomalies: none for {self.cost_center_id} in {self.period}."]
        n = self.flags.height
        return [f"Open anomalies: {n} incident{'' if n == 1 else 's'}, {self.flag_amount:,.2f} over expected",
                *(f"{r['title']} ({r['status']})" for r in self.flags.iter_rows(named=True))]


def previous_period(period: str) -> str:
    d = add_months(month_start(period), -1)
    return f"{d.year:04d}-{d.month:02d}"


@dataclass(frozen=True)
class _Charges:
    lines: pl.DataFrame   # LINE_SCHEMA
    totals: dict[str, Decimal]


def _charges(con: duckdb.DuckDBPyConnection, run_key: str, cost_center_id: str, scenario: Scenario,
             idle: pl.DataFrame | None, rate_charges: pl.DataFrame | None, *, unit_column: str = "cost_center_id",
             ) -> _Charges:
    """One run's lines and totals for one cost centre (or, `unit_column="business_unit_id"`, one business unit)
    under `scenario` (applied to the whole run)."""
    allocated = load_allocated(con, run_key)
    if idle is None and scenario.idle_penalty_pct > 0:
        idle = idle_base(allocated)   # as the scenario comparison does, so both show the same cents
    applied = apply_scenario(allocated, scenario, idle=idle, rate_charges=rate_charges).filter(
        pl.col(unit_column) == cost_center_id)
    mine = allocated.filter(pl.col(unit_column) == cost_center_id)
    grouped = (
        mine.with_columns(pl.coalesce(pl.col("service_name"), pl.col("source_pool")).alias("service"))
        .group_by("step", "step_name", "service", "source_pool", "method", "driver", "app_id")
        .agg(pl.col("posted_amount").sum().alias("amount"))
        .filter(pl.col("amount") != 0)
        .sort("step", "service", "app_id", nulls_last=True)
        .with_columns(pl.when(pl.col("source_pool").str.starts_with(DISPUTE_POOL))  # accepted disputes
                      .then(pl.lit(DISPUTE_SECTION)).otherwise(pl.lit("allocated")).alias("section"),
                      pl.col("step").cast(pl.Int64))
        .select(list(LINE_SCHEMA))
    )

    def total(col: str) -> Decimal:
        return Decimal(applied[col].sum()) if applied.height else ZERO

    adjustments: list[tuple[str, str, Decimal]] = []
    if scenario.subsidies and total("subsidy"):
        label = "; ".join(s.describe() for s in scenario.subsidies)
        adjustments.append(("subsidy", f"Subsidy carried centrally: {label}", -total("subsidy")))
    if total("commitment_central"):
        adjustments.append(("commitment_central", f"Unused commitment carried centrally "
                            f"({(scenario.unused_commitment_policy or '').replace('_', ' ')})",
                            -total("commitment_central")))
    if total("markup"):
        adjustments.append(("markup", f"Overhead markup {scenario.markup_pct}% ({scenario.markup_base})",
                            total("markup")))
    if total("penalty"):
        adjustments.append(("penalty", f"Idle capacity penalty {scenario.idle_penalty_pct}%", total("penalty")))
    if total("rate_variance"):
        adjustments.append(("rate_variance", f"Rate card {scenario.rate_card}: priced usage minus allocated cost",
                            total("rate_variance")))
    adj = pl.DataFrame([{"section": sec, "step": None, "step_name": label, "service": None, "source_pool": None,
                         "method": None, "driver": None, "app_id": None, "amount": amt}
                        for sec, label, amt in adjustments], schema=LINE_SCHEMA, orient="row")
    totals = {c: total(c) for c in ("allocated", "subsidy", "markup", "penalty", "rate_variance", "charge",
                                    "invoiced")}
    return _Charges(pl.concat([grouped.cast(LINE_SCHEMA), adj]), totals)


def _with_prior(now: pl.DataFrame, before: pl.DataFrame | None) -> pl.DataFrame:
    """This month's lines with last month's amount of the same line (same section, step, service, pool, method,
    driver, application) and the change; lines charged last month only follow with 0.00 this month. Without a
    posted prior run the two columns are null."""
    if before is None:
        return now.with_columns(pl.lit(None, dtype=MONEY).alias("prior_amount"),
                                pl.lit(None, dtype=MONEY).alias("change")).select(list(STATEMENT_SCHEMA))
    prior = {tuple(r[k] for k in LINE_KEY): r["amount"] for r in before.iter_rows(named=True)}
    rows: list[dict[str, object]] = []
    seen = set()
    for r in now.iter_rows(named=True):
        key = tuple(r[k] for k in LINE_KEY)
        seen.add(key)
        p = prior.get(key, ZERO)
        rows.append({**r, "prior_amount": p, "change": r["amount"] - p})
    for r in before.iter_rows(named=True):
        key = tuple(r[k] for k in LINE_KEY)
        if key not in seen:
            rows.append({**r, "amount": ZERO, "prior_amount": r["amount"], "change": -r["amount"]})
    return pl.DataFrame(rows, schema=STATEMENT_SCHEMA, orient="row")


def build_statement(con: duckdb.DuckDBPyConnection, run_key: str, cost_center_id: str, scenario: Scenario, *,
                    organisation: bool = False, flags: pl.DataFrame | None = None,
                    idle: pl.DataFrame | None = None, rate_charges: pl.DataFrame | None = None,
                    prior_rate_charges: pl.DataFrame | None = None, now: datetime | None = None) -> Statement:
    """The statement of one cost centre in one posted run under one scenario, with last month beside it.

    Adjustments come from applying the scenario to the *whole* run, so the cents on the statement are exactly the
    cents in the scenario comparison (largest remainder is decided across all targets, not per statement). The
    prior month is the latest posted run of the calendar month before, under the same scenario (a rate-card
    scenario needs that month's `prior_rate_charges`, else the prior month is reported as not comparable).
    `organisation` adds the run's organisation-wide allocated total against the period's invoices: callers pass it
    only for users who see the whole organisation (engine.access.statement_access); it is off by default.
    `flags` are the cost centre's active anomalies (`open_flags`), shown as they are.
    """
    run = con.sql("SELECT period, rule_set, rule_version, basis, status FROM allocation_run WHERE run_key = ?",
                  params=[run_key]).fetchall()
    if not run:
        raise NotFound(f"no allocation run {run_key!r}")
    period, rule_set, rule_version, basis, status = run[0]
    if status != "posted":
        raise InputError(f"run {run_key[:16]} is {status}, not posted: no statement")
    org = con.sql("SELECT c.name, c.parent_id, b.name, c.kind FROM org_unit c"
                  " LEFT JOIN org_unit b ON b.unit_id = c.parent_id WHERE c.unit_id = ?",
                  params=[cost_center_id]).fetchall()
    if not org:
        raise NotFound(f"no cost centre or business unit {cost_center_id!r}")
    cc_name, bu_id, bu_name, kind = org[0]
    unit_column = "business_unit_id" if kind == "business_unit" else "cost_center_id"
    if kind == "business_unit":          # a business unit's statement: every cost centre under it, together
        bu_id, bu_name = cost_center_id, cc_name
    current = _charges(con, run_key, cost_center_id, scenario, idle, rate_charges, unit_column=unit_column)

    prior = PriorMonth(previous_period(period))
    before: pl.DataFrame | None = None
    prior_run = latest_run(con, prior.period)
    if prior_run is not None and scenario.model == "rate_card" and prior_rate_charges is None:
        prior = PriorMonth(prior.period, reason="its rate-card prices were not supplied")
    elif prior_run is not None:
        meta = con.sql("SELECT rule_set, rule_version FROM allocation_run WHERE run_key = ?",
                       params=[prior_run]).fetchall()[0]
        last = _charges(con, prior_run, cost_center_id, scenario, None, prior_rate_charges, unit_column=unit_column)
        before = last.lines
        prior = PriorMonth(prior.period, prior_run, meta[0], int(meta[1]), last.totals["allocated"],
                           last.totals["charge"], last.totals["invoiced"])
    t = current.totals
    return Statement(
        run_key=run_key, period=period, cost_center_id=cost_center_id, cost_center_name=cc_name,
        business_unit_id=bu_id, business_unit_name=bu_name, rule_set=rule_set, rule_version=int(rule_version),
        basis=basis, scenario=scenario, lines=_with_prior(current.lines, before), allocated=t["allocated"],
        subsidy=t["subsidy"], markup=t["markup"], penalty=t["penalty"], rate_variance=t["rate_variance"],
        charge=t["charge"], invoiced=t["invoiced"], prior=prior,
        reconciliation=allocated_vs_invoice(con, run_key) if organisation else None,
        flags=None if flags is None else flags.select(list(FLAG_SCHEMA)).cast(FLAG_SCHEMA),
        generated_at=now or datetime.now(),
    )


def open_flags(con: duckdb.DuckDBPyConnection, user: User | None, period: str, cost_center_id: str) -> pl.DataFrame:
    """Active anomalies (open, acknowledged, ticketed) of one cost centre overlapping `period`, through the anomaly
    workflow's own scoped query (an app owner reads only their cost centres' incidents), largest excess first."""
    units = {cost_center_id} | {r[0] for r in con.execute(
        "SELECT unit_id FROM org_unit WHERE parent_id = ? AND kind = 'cost_center'", [cost_center_id]).fetchall()}
    found = workflow.list_anomalies(con, user, "active", period).filter(pl.col("cost_center_id").is_in(units))
    rows = [{"anomaly_id": a.anomaly_id, "title": workflow.ticket_text(a)[0], "status": a.status,
             "excess": a.excess} for a in (workflow.Anomaly(**r) for r in found.iter_rows(named=True))]
    return pl.DataFrame(rows, schema=FLAG_SCHEMA, orient="row")


def _totals(st: Statement) -> list[tuple[str, Decimal, Decimal | None]]:
    p = st.prior
    return [("Allocated cost", st.allocated, p.allocated), ("Charge under scenario", st.charge, p.charge),
            ("Invoiced (0 under showback)", st.invoiced, p.invoiced)]


def statement_frame(st: Statement) -> pl.DataFrame:
    """Every line, then the totals, each row self-describing (cost centre, period, scenario, rule version), with
    last month's amount and the change (empty when last month has no posted run)."""
    totals = pl.DataFrame(
        [{"section": "total", "step": None, "step_name": name, "service": None, "source_pool": None, "method": None,
          "driver": None, "app_id": None, "amount": amount, "prior_amount": prior,
          "change": None if prior is None else amount - prior}
         for name, amount, prior in _totals(st)],
        schema=STATEMENT_SCHEMA, orient="row")
    body = pl.concat([st.lines, totals])
    return body.select(
        pl.lit(st.cost_center_id).alias("cost_centre"), pl.lit(st.period).alias("period"),
        pl.lit(st.scenario_label).alias("scenario"), pl.lit(f"{st.rule_set} v{st.rule_version}").alias("rule_set"),
        pl.all(),
    )


def to_csv(st: Statement) -> bytes:
    return to_csv_bytes(statement_frame(st))


def to_xlsx(st: Statement) -> bytes:
    """The statement sheet (header lines above the table) and, when flags were read, an "Open anomalies" sheet
    (its count and amount above the incidents); no cell is ever a formula (strings_to_formulas=False)."""
    sheets = {"Statement": statement_frame(st)}
    titles = {"Statement": st.header_lines() + st.flag_lines()[:1]}
    if st.flags is not None:
        sheets["Open anomalies"] = st.flags
        titles["Open anomalies"] = st.flag_lines()[:1]
    return to_xlsx_bytes(sheets, titles=titles)


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem;color:#111}
h1{font-size:1.3rem;margin:0 0 .3rem} h2{font-size:1.05rem;margin:1.2rem 0 .2rem}
p.meta{margin:.1rem 0;color:#444;font-size:.9rem}
table{border-collapse:collapse;width:100%;margin-top:1rem;font-size:.88rem}
th,td{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left} td.num,th.num{text-align:right}
tr.adj td{font-style:italic} tr.total td{font-weight:600;border-top:2px solid #111}
@media print{body{margin:0} a{color:inherit} @page{size:A4;margin:15mm}}
"""


def _money(v: Decimal | None) -> str:
    return "" if v is None else f"{v:,.2f}"


def to_html(st: Statement) -> str:
    """A self-contained, printable page (print to PDF from the browser); every data value is HTML-escaped."""
    e = html.escape
    head = st.header_lines()
    rows = []
    for r in st.lines.iter_rows(named=True):
        cls = "adj" if r["section"] != "allocated" else ""
        step = "" if r["step"] is None else f"{r['step']} · {r['step_name'] or ''}"
        label = step if r["section"] == "allocated" else (r["step_name"] or "")
        rows.append(f"<tr class=\"{cls}\"><td>{e(label)}</td><td>{e(r['service'] or '')}</td>"
                    f"<td>{e(r['method'] or '')}</td><td>{e(r['driver'] or '')}</td><td>{e(r['app_id'] or '')}</td>"
                    f"<td class=\"num\">{_money(r['amount'])}</td><td class=\"num\">{_money(r['prior_amount'])}</td>"
                    f"<td class=\"num\">{_money(r['change'])}</td></tr>")
    for name, amount, prior in _totals(st):
        change = None if prior is None else amount - prior
        rows.append(f"<tr class=\"total\"><td colspan=\"5\">{e(name.split(' (')[0])}</td>"
                    f"<td class=\"num\">{_money(amount)}</td><td class=\"num\">{_money(prior)}</td>"
                    f"<td class=\"num\">{_money(change)}</td></tr>")
    meta = "".join(f"<p class=\"meta\">{e(line)}</p>" for line in head[1:])
    flags = st.flag_lines()
    block = ""
    if flags:
        items = "".join(f"<li>{e(t)}</li>" for t in flags[1:])
        block = (f"<section class=\"flags\"><h2>Open anomalies</h2><p class=\"meta\">{e(flags[0])}</p>"
                 + (f"<ul>{items}</ul>" if items else "") + "</section>")
    return (
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{e(head[0])}</title><style>{_CSS}</style></head><body>"
        f"<h1>{e(head[0])}</h1>{meta}"
        f"<p class=\"meta\">Generated {e(st.generated_at.strftime('%Y-%m-%d %H:%M'))}</p>"
        "<table><thead><tr><th>Step</th><th>Service / pool</th><th>Method</th><th>Driver</th><th>Application</th>"
        f"<th class=\"num\">Amount</th><th class=\"num\">{e(st.prior.period)}</th><th class=\"num\">Change</th>"
        "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>" + block + "</body></html>"
    )
