"""A cost centre's chargeback statement: lines by step and service, scenario lines, totals, invoice check, formats."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from decimal import Decimal as D

import duckdb
import openpyxl
import pytest

from engine.costmodels.scenarios import Scenario, Subsidy, save_scenario
from engine.outputs.statements import build_statement, to_csv, to_html, to_xlsx
from engine.reconcile.invoices import record_invoice

SUBSIDISED = Scenario(name="security subsidy", model="subsidised", markup_pct=D(5),
                      subsidies=[Subsidy(values=["security_tooling"], pct=D(30), label="30% of security tooling")])


def _run(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("INSERT INTO org_unit VALUES ('BU01', 'Retail', 'business_unit', NULL, NULL),"
                " ('CC01', 'Stores <IT>', 'cost_center', 'BU01', NULL),"
                " ('CC02', 'Online', 'cost_center', 'BU01', NULL)")
    con.execute("INSERT INTO allocation_run (run_key, period, rule_set, rule_version, basis, total_in, total_out,"
                " status) VALUES ('run-1', '2026-10', 'demo-rules', 3, 'effective', 290, 290, 'posted'),"
                " ('run-f', '2026-10', 'demo-rules', 3, 'effective', 0, 0, 'failed')")
    rows = [
        (1, "cloud_direct", "direct", None, "application", "APP1", "CC01", "APP1", "100.00"),
        (1, "cloud_direct", "direct", None, "cost_center", "CC02", "CC02", None, "50.00"),
        (1, "cloud_direct", "direct", None, "unallocated", "UNALLOCATED", None, None, "10.00"),
        (2, "security_tooling", "driver", "headcount", "cost_center", "CC01", "CC01", None, "60.00"),
        (2, "security_tooling", "driver", "headcount", "cost_center", "CC02", "CC02", None, "40.00"),
        (3, "=cmd|' /C calc'!A0", "even", None, "cost_center", "CC01", "CC01", None, "15.00"),
        (3, "=cmd|' /C calc'!A0", "even", None, "cost_center", "CC02", "CC02", None, "15.00"),
    ]
    for step, pool, method, driver, kind, tid, cc, app, amount in rows:
        con.execute("INSERT INTO allocation_result (run_key, period, step, step_name, source_pool, method, driver,"
                    " target_kind, target_id, cost_center_id, app_id, amount, posted_amount)"
                    " VALUES ('run-1', '2026-10', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [step, f"Step {step}", pool, method, driver, kind, tid, cc, app, D(amount), D(amount)])
    record_invoice(con, "INV-1", "AWS", "2026-10", D("289.00"), "USD", "ap")


def test_statement_lines_totals_and_reconciliation(con: duckdb.DuckDBPyConnection) -> None:
    _run(con)
    scen = save_scenario(con, SUBSIDISED, "finops")
    st = build_statement(con, "run-1", "CC01", scen, now=datetime(2026, 11, 2, 9, 0))
    lines = [(r["section"], r["step"], r["service"], r["app_id"], r["amount"]) for r in st.lines.iter_rows(named=True)]
    assert lines == [
        ("allocated", 1, "cloud_direct", "APP1", D("100.00")),
        ("allocated", 2, "security_tooling", None, D("60.00")),
        ("allocated", 3, "=cmd|' /C calc'!A0", None, D("15.00")),
        ("subsidy", None, None, None, D("-18.00")),
        ("markup", None, None, None, D("8.75")),
    ]
    # 175.00 allocated − 18.00 subsidy (30 % of 60.00) + 8.75 markup (5 % of 175.00) = 165.75
    assert (st.allocated, st.subsidy, st.markup, st.charge, st.invoiced) == (
        D("175.00"), D("18.00"), D("8.75"), D("165.75"), D("165.75"))
    assert st.header_lines() == [
        "Chargeback statement — Stores <IT> (CC01) · Retail (BU01)",
        "Period 2026-10 · scenario security subsidy v1 — subsidised",
        "Rule set demo-rules v3 · effective cost · run run-1",
        "Allocated 290.00 (effective cost) vs invoiced 289.00 (1 invoice): difference 1.00.",
    ]


def test_statement_formats_are_safe(con: duckdb.DuckDBPyConnection) -> None:
    _run(con)
    st = build_statement(con, "run-1", "CC01", SUBSIDISED, now=datetime(2026, 11, 2, 9, 0))
    rows = list(csv.DictReader(io.StringIO(to_csv(st).decode())))
    assert rows[2]["service"] == "'=cmd|' /C calc'!A0"
    assert rows[-1]["step_name"] == "Invoiced (0 under showback)" and rows[-1]["amount"] == "165.75"
    assert rows[0]["scenario"] == "security subsidy (unsaved) — subsidised" and rows[0]["rule_set"] == "demo-rules v3"
    ws = openpyxl.load_workbook(io.BytesIO(to_xlsx(st)))["Statement"]
    assert not any(c.data_type == "f" for row in ws.iter_rows() for c in row if c.value is not None)
    assert ws["A1"].value.startswith("Chargeback statement")
    page = to_html(st)
    assert "Stores &lt;IT&gt;" in page and "<IT>" not in page
    assert "165.75" in page and "@media print" in page


def test_statement_refuses_failed_runs_and_unknown_cost_centres(con: duckdb.DuckDBPyConnection) -> None:
    _run(con)
    with pytest.raises(ValueError, match="failed"):
        build_statement(con, "run-f", "CC01", SUBSIDISED)
    with pytest.raises(LookupError):
        build_statement(con, "run-1", "CC99", SUBSIDISED)
    with pytest.raises(LookupError):
        build_statement(con, "nope", "CC01", SUBSIDISED)
    showback = build_statement(con, "run-1", "CC02", Scenario(name="showback", model="showback"))
    assert (showback.charge, showback.invoiced) == (D("105.00"), D(0))
    assert showback.lines["section"].unique().to_list() == ["allocated"]
