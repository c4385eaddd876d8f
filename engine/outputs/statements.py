"""Chargeback statements: what one cost centre is charged for a period, and why, as CSV, XLSX and printable HTML.

A statement is what an app owner disputes and what an auditor re-derives, so it carries everything needed to do
that: the run key, rule set and version, the scenario and version, every allocated line by step and service, each
scenario adjustment as its own line, totals, and the run's allocated total against the period's invoices.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import duckdb
import polars as pl

from engine.costmodels.scenarios import Scenario, apply_scenario, load_allocated
from engine.errors import InputError, NotFound
from engine.outputs.exports import to_csv_bytes, to_xlsx_bytes
from engine.reconcile.invoices import AllocatedVsInvoice, allocated_vs_invoice

MONEY = pl.Decimal(18, 2)
LINE_SCHEMA = pl.Schema({
    "section": pl.String(), "step": pl.Int64(), "step_name": pl.String(), "service": pl.String(),
    "source_pool": pl.String(), "method": pl.String(), "driver": pl.String(), "app_id": pl.String(), "amount": MONEY,
})


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
    lines: pl.DataFrame
    allocated: Decimal
    subsidy: Decimal
    markup: Decimal
    penalty: Decimal
    rate_variance: Decimal
    charge: Decimal
    invoiced: Decimal
    reconciliation: AllocatedVsInvoice
    generated_at: datetime

    @property
    def scenario_label(self) -> str:
        v = f" v{self.scenario.version}" if self.scenario.version else " (unsaved)"
        return f"{self.scenario.name}{v} — {self.scenario.model.replace('_', ' ')}"

    def header_lines(self) -> list[str]:
        bu = f" · {self.business_unit_name} ({self.business_unit_id})" if self.business_unit_id else ""
        return [
            f"Chargeback statement — {self.cost_center_name} ({self.cost_center_id}){bu}",
            f"Period {self.period} · scenario {self.scenario_label}",
            f"Rule set {self.rule_set} v{self.rule_version} · {self.basis} cost · run {self.run_key[:16]}",
            self.reconciliation.describe(),
        ]


def build_statement(con: duckdb.DuckDBPyConnection, run_key: str, cost_center_id: str, scenario: Scenario, *,
                    idle: pl.DataFrame | None = None, rate_charges: pl.DataFrame | None = None,
                    now: datetime | None = None) -> Statement:
    """The statement of one cost centre in one posted run under one scenario.

    Adjustments come from applying the scenario to the *whole* run, so the cents on the statement are exactly the
    cents in the scenario comparison (largest remainder is decided across all targets, not per statement).
    """
    run = con.sql("SELECT period, rule_set, rule_version, basis, status FROM allocation_run WHERE run_key = ?",
                  params=[run_key]).fetchall()
    if not run:
        raise NotFound(f"no allocation run {run_key!r}")
    period, rule_set, rule_version, basis, status = run[0]
    if status != "posted":
        raise InputError(f"run {run_key[:16]} is {status}, not posted: no statement")
    org = con.sql("SELECT c.name, c.parent_id, b.name FROM org_unit c LEFT JOIN org_unit b ON b.unit_id = c.parent_id"
                  " WHERE c.unit_id = ?", params=[cost_center_id]).fetchall()
    if not org:
        raise NotFound(f"no cost centre {cost_center_id!r}")
    cc_name, bu_id, bu_name = org[0]
    allocated = load_allocated(con, run_key)
    applied = apply_scenario(allocated, scenario, idle=idle, rate_charges=rate_charges).filter(
        pl.col("cost_center_id") == cost_center_id)
    mine = allocated.filter(pl.col("cost_center_id") == cost_center_id)
    grouped = (
        mine.with_columns(pl.coalesce(pl.col("service_name"), pl.col("source_pool")).alias("service"))
        .group_by("step", "step_name", "service", "source_pool", "method", "driver", "app_id")
        .agg(pl.col("posted_amount").sum().alias("amount"))
        .filter(pl.col("amount") != 0)
        .sort("step", "service", "app_id", nulls_last=True)
        .with_columns(pl.lit("allocated").alias("section"), pl.col("step").cast(pl.Int64))
        .select(list(LINE_SCHEMA))
    )

    def total(col: str) -> Decimal:
        return Decimal(applied[col].sum()) if applied.height else Decimal("0.00")

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
    lines = pl.concat([grouped.cast(LINE_SCHEMA), adj])
    return Statement(
        run_key=run_key, period=period, cost_center_id=cost_center_id, cost_center_name=cc_name,
        business_unit_id=bu_id, business_unit_name=bu_name, rule_set=rule_set, rule_version=int(rule_version),
        basis=basis, scenario=scenario, lines=lines, allocated=total("allocated"), subsidy=total("subsidy"),
        markup=total("markup"), penalty=total("penalty"), rate_variance=total("rate_variance"),
        charge=total("charge"), invoiced=total("invoiced"), reconciliation=allocated_vs_invoice(con, run_key),
        generated_at=now or datetime.now(),
    )


def statement_frame(st: Statement) -> pl.DataFrame:
    """Every line, then the totals, each row self-describing (cost centre, period, scenario, rule version)."""
    totals = pl.DataFrame(
        [{"section": "total", "step": None, "step_name": name, "service": None, "source_pool": None, "method": None,
          "driver": None, "app_id": None, "amount": amount}
         for name, amount in (("Allocated cost", st.allocated), ("Charge under scenario", st.charge),
                              ("Invoiced (0 under showback)", st.invoiced))],
        schema=LINE_SCHEMA, orient="row")
    body = pl.concat([st.lines, totals])
    return body.select(
        pl.lit(st.cost_center_id).alias("cost_centre"), pl.lit(st.period).alias("period"),
        pl.lit(st.scenario_label).alias("scenario"), pl.lit(f"{st.rule_set} v{st.rule_version}").alias("rule_set"),
        pl.all(),
    )


def to_csv(st: Statement) -> bytes:
    return to_csv_bytes(statement_frame(st))


def to_xlsx(st: Statement) -> bytes:
    """One sheet, the header lines above the table; no cell is ever a formula (strings_to_formulas=False)."""
    return to_xlsx_bytes({"Statement": statement_frame(st)}, titles={"Statement": st.header_lines()})


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem;color:#111}
h1{font-size:1.3rem;margin:0 0 .3rem} p.meta{margin:.1rem 0;color:#444;font-size:.9rem}
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
                    f"<td class=\"num\">{_money(r['amount'])}</td></tr>")
    for name, amount in (("Allocated cost", st.allocated), ("Charge under scenario", st.charge),
                         ("Invoiced", st.invoiced)):
        rows.append(f"<tr class=\"total\"><td colspan=\"5\">{e(name)}</td><td class=\"num\">{_money(amount)}</td></tr>")
    meta = "".join(f"<p class=\"meta\">{e(line)}</p>" for line in head[1:])
    return (
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{e(head[0])}</title><style>{_CSS}</style></head><body>"
        f"<h1>{e(head[0])}</h1>{meta}"
        f"<p class=\"meta\">Generated {e(st.generated_at.strftime('%Y-%m-%d %H:%M'))}</p>"
        "<table><thead><tr><th>Step</th><th>Service / pool</th><th>Method</th><th>Driver</th><th>Application</th>"
        "<th class=\"num\">Amount</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table></body></html>"
    )
