"""A cost centre's chargeback statement: lines by step and service, scenario lines, totals, invoice check, formats."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from decimal import Decimal as D

import duckdb
import openpyxl
import polars as pl
import pytest

from engine.costmodels.scenarios import Scenario, Subsidy, save_scenario
from engine.outputs.statements import FLAG_SCHEMA, build_statement, to_csv, to_html, to_xlsx
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
    st = build_statement(con, "run-1", "CC01", scen, organisation=True, now=datetime(2026, 11, 2, 9, 0))
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
        "Prior month 2026-09: no posted allocation run, so no prior-month figures.",
        "Allocated 290.00 (effective cost) vs invoiced 289.00 (1 invoice): difference 1.00.",
    ]
    # no posted run last month: the prior columns are empty, never 0.00
    assert st.prior.charge is None and st.charge_change is None
    assert st.lines["prior_amount"].null_count() == st.lines.height == st.lines["change"].null_count()


def test_statement_without_organisation_shows_only_the_cost_centre(con: duckdb.DuckDBPyConnection) -> None:
    """The default (what a scoped caller gets): no run total, no invoice total, no difference, in any format."""
    _run(con)
    st = build_statement(con, "run-1", "CC01", SUBSIDISED, now=datetime(2026, 11, 2, 9, 0))
    assert st.reconciliation is None
    ws = openpyxl.load_workbook(io.BytesIO(to_xlsx(st)))["Statement"]
    cells = [str(c.value) for row in ws.iter_rows() for c in row if c.value is not None]
    for text in (" ".join(st.header_lines()), to_csv(st).decode(), to_html(st), " ".join(cells)):
        for org_figure in ("290.00", "289.00", "invoiced 289", "difference"):
            assert org_figure not in text, org_figure


def _prior_run(con: duckdb.DuckDBPyConnection) -> None:
    """2026-09, posted under rule version 2: CC01 had APP1 at 80.00, security at 55.00 and a licence line that is
    gone in 2026-10."""
    con.execute("INSERT INTO allocation_run (run_key, period, rule_set, rule_version, basis, total_in, total_out,"
                " status) VALUES ('run-0', '2026-09', 'demo-rules', 2, 'effective', 200, 200, 'posted')")
    rows = [
        (1, "cloud_direct", "direct", None, "application", "APP1", "CC01", "APP1", "80.00"),
        (2, "security_tooling", "driver", "headcount", "cost_center", "CC01", "CC01", None, "55.00"),
        (2, "security_tooling", "driver", "headcount", "cost_center", "CC02", "CC02", None, "45.00"),
        (4, "licences", "driver", "seats", "cost_center", "CC01", "CC01", None, "20.00"),
    ]
    for step, pool, method, driver, kind, tid, cc, app, amount in rows:
        con.execute("INSERT INTO allocation_result (run_key, period, step, step_name, source_pool, method, driver,"
                    " target_kind, target_id, cost_center_id, app_id, amount, posted_amount)"
                    " VALUES ('run-0', '2026-09', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [step, f"Step {step}", pool, method, driver, kind, tid, cc, app, D(amount), D(amount)])


def test_prior_month_per_line_and_in_total_from_the_posted_run(con: duckdb.DuckDBPyConnection) -> None:
    _run(con)
    _prior_run(con)
    st = build_statement(con, "run-1", "CC01", SUBSIDISED, now=datetime(2026, 11, 2, 9, 0))
    got = [(r["section"], r["step"], r["service"], r["amount"], r["prior_amount"], r["change"])
           for r in st.lines.iter_rows(named=True)]
    assert got == [
        ("allocated", 1, "cloud_direct", D("100.00"), D("80.00"), D("20.00")),
        ("allocated", 2, "security_tooling", D("60.00"), D("55.00"), D("5.00")),
        ("allocated", 3, "=cmd|' /C calc'!A0", D("15.00"), D("0.00"), D("15.00")),
        ("subsidy", None, None, D("-18.00"), D("-16.50"), D("-1.50")),     # 30 % of 55.00 last month
        ("markup", None, None, D("8.75"), D("7.75"), D("1.00")),           # 5 % of 155.00
        ("allocated", 4, "licences", D("0.00"), D("20.00"), D("-20.00")),  # charged last month only
    ]
    # the prior figures are the posted cents of run-0 for CC01, under the same scenario
    posted = con.sql("SELECT sum(posted_amount) FROM allocation_result WHERE run_key = 'run-0'"
                     " AND cost_center_id = 'CC01'").fetchall()[0][0]
    assert st.prior.allocated == posted == D("155.00")
    assert (st.prior.run_key, st.prior.rule_version) == ("run-0", 2)
    assert st.prior.charge == D("155.00") - D("16.50") + D("7.75") == sum(st.lines["prior_amount"])
    assert st.charge_change == D("165.75") - D("146.25") == D("19.50")
    assert st.header_lines()[3] == ("Prior month 2026-09: charge 146.25, change +19.50 "
                                    "(rule set demo-rules v2 · run run-0)")
    rows = list(csv.DictReader(io.StringIO(to_csv(st).decode())))
    charge = next(r for r in rows if r["step_name"] == "Charge under scenario")
    assert (charge["amount"], charge["prior_amount"], charge["change"]) == ("165.75", "146.25", "19.50")
    page = to_html(st)
    assert "146.25" in page and "19.50" in page and ">2026-09</th>" in page


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


def test_flags_block_in_html_and_xlsx(con: duckdb.DuckDBPyConnection) -> None:
    _run(con)
    flags = pl.DataFrame([{"anomaly_id": "A-7", "title": "Cost anomaly A-7: application <b>x</b>, 2026-10, 12.50 over "
                           "expected", "status": "open", "excess": D("12.50")},
                          {"anomaly_id": "A-9", "title": "=HYPERLINK(\"http://x\")", "status": "acknowledged",
                           "excess": D("7.25")}], schema=FLAG_SCHEMA, orient="row")
    st = build_statement(con, "run-1", "CC01", SUBSIDISED, flags=flags, now=datetime(2026, 11, 2, 9, 0))
    assert (st.flag_count, st.flag_amount) == (2, D("19.75"))
    assert st.flag_lines()[0] == "Open anomalies: 2 incidents, 19.75 over expected"
    page = to_html(st)
    assert "<h2>Open anomalies</h2>" in page and "application &lt;b&gt;x&lt;/b&gt;" in page and "<b>x" not in page
    wb = openpyxl.load_workbook(io.BytesIO(to_xlsx(st)))
    ws = wb["Open anomalies"]
    values = [[c.value for c in row] for row in ws.iter_rows()]
    assert values[0][0] == "Open anomalies: 2 incidents, 19.75 over expected"
    assert ["A-9", "'=HYPERLINK(\"http://x\")", "acknowledged", 7.25] in values
    assert not any(c.data_type == "f" for row in ws.iter_rows() for c in row if c.value is not None)
    none = build_statement(con, "run-1", "CC01", SUBSIDISED, flags=flags.clear())
    assert none.flag_lines() == ["Open anomalies: none for CC01 in 2026-10."]
    assert build_statement(con, "run-1", "CC01", SUBSIDISED).flag_lines() == []   # not read: no block at all
