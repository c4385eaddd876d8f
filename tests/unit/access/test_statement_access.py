"""Statements through the scoped entry point, on the demo store: an app owner's statement (object, CSV, XLSX, HTML)
holds no organisation-wide figure, FinOps and auditors' do; last month comes from last month's posted run; the
open-anomalies block is the workflow's own scoped answer for the cost centre."""

from __future__ import annotations

import io
from decimal import Decimal as D

import duckdb
import openpyxl
import polars as pl
import pytest

from data.demo_close import ensure_rule_set
from engine.access.scope import visible_business_units
from engine.access.statement_access import sees_whole_organisation, statement_for
from engine.access.users import User, get_user
from engine.allocation.runs import latest_run, run_allocation
from engine.costmodels.presets import FULL_RECOVERY, SUBSIDISED
from engine.errors import AccessDenied
from engine.insights import comparison
from engine.insights.anomalies import workflow
from engine.outputs.statements import Statement, to_csv, to_html, to_xlsx
from engine.reconcile.invoices import allocated_vs_invoice, record_invoice


def _user(con: duckdb.DuckDBPyConnection, name: str) -> User:
    u = get_user(con, name)
    assert u is not None
    return u


def _everything(st: Statement) -> tuple[str, list[float]]:
    """All text a reader of the statement gets in any format, and every number in its workbook."""
    wb = openpyxl.load_workbook(io.BytesIO(to_xlsx(st)))
    cells = [c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None]
    text = "\n".join([*st.header_lines(), *st.flag_lines(), to_csv(st).decode(), to_html(st),
                      *(str(v) for v in cells), str(st.lines.to_dicts())])
    return text, [float(v) for v in cells if isinstance(v, int | float)]


def test_whole_organisation_is_decided_by_scope() -> None:
    assert sees_whole_organisation(User("f", "F", "finops", None))
    assert sees_whole_organisation(User("a", "A", "auditor", None))
    assert not sees_whole_organisation(User("o", "O", "app_owner", frozenset({"CC015"})))
    assert not sees_whole_organisation(User("o", "O", "app_owner", frozenset()))
    assert not sees_whole_organisation(None)


def test_app_owner_statement_holds_no_organisation_figure(demo_con: duckdb.DuckDBPyConnection) -> None:
    period = comparison.posted_periods(demo_con)[-1]
    record_invoice(demo_con, "INV-ORG", "AWS", period, D("98765.43"), "USD", "ap")
    run = latest_run(demo_con, period)
    assert run is not None
    org = allocated_vs_invoice(demo_con, run)
    assert org.invoice_total == D("98765.43") and org.difference is not None
    org_figures = [org.allocated_total, org.invoice_total, org.difference]

    omar, fiona, audrey = (_user(demo_con, n) for n in ("omar", "fiona", "audrey"))
    assert omar.cost_centers
    for cc in sorted(omar.cost_centers):
        mine = statement_for(demo_con, omar, period, cc, SUBSIDISED)
        assert mine.reconciliation is None
        text, numbers = _everything(mine)
        for v in org_figures:
            assert f"{v:,.2f}" not in text and f"{v:.2f}" not in text, (cc, v)
            assert float(v) not in numbers, (cc, v)
        assert "invoiced" not in " ".join(mine.header_lines()).lower()
        # the cost centre's own figures are the same cents FinOps reads
        theirs = statement_for(demo_con, fiona, period, cc, SUBSIDISED)
        assert (mine.allocated, mine.charge, mine.prior.charge) == (theirs.allocated, theirs.charge,
                                                                    theirs.prior.charge)
        assert mine.lines.equals(theirs.lines)

    for finance in (fiona, audrey):
        st = statement_for(demo_con, finance, period, sorted(omar.cost_centers)[0], SUBSIDISED)
        assert st.reconciliation == org
        assert org.describe() in st.header_lines()
        text, _ = _everything(st)
        assert f"{org.allocated_total:,.2f}" in text and f"{org.difference:,.2f}" in text


def test_prior_month_is_last_months_posted_run(demo_con: duckdb.DuckDBPyConnection) -> None:
    periods = comparison.posted_periods(demo_con)
    assert len(periods) >= 2
    omar = _user(demo_con, "omar")
    cc = sorted(omar.cost_centers or ())[0]
    st = statement_for(demo_con, omar, periods[-1], cc, FULL_RECOVERY)
    prior_run = latest_run(demo_con, periods[-2])
    posted = demo_con.execute("SELECT sum(posted_amount) FROM allocation_result WHERE run_key = ? AND "
                              "cost_center_id = ?", [prior_run, cc]).fetchall()[0][0]
    assert st.prior.period == periods[-2] and st.prior.run_key == prior_run
    assert st.prior.allocated == posted == st.prior.charge          # full recovery charges what was allocated
    assert sum(st.lines["prior_amount"]) == posted
    assert st.charge_change == st.charge - posted
    assert sum(st.lines["change"]) == st.charge - posted

    first = statement_for(demo_con, omar, periods[0], cc, FULL_RECOVERY)   # the month before has no posted run
    assert latest_run(demo_con, first.prior.period) is None
    assert not first.prior.posted and first.prior.charge is None and first.charge_change is None
    assert f"Prior month {first.prior.period}: no posted allocation run" in first.header_lines()[3]
    assert first.lines["prior_amount"].null_count() == first.lines.height


def test_open_anomalies_are_the_workflows_for_the_cost_centre(demo_con: duckdb.DuckDBPyConnection) -> None:
    omar = _user(demo_con, "omar")
    period = "2026-06"   # the demo's spike month (Mobile App Backend): its flags are the owner's; close it here
    run_allocation(demo_con, period, ensure_rule_set(demo_con)[0], actor="fiona")
    active = workflow.list_anomalies(demo_con, omar, "active", period)
    assert active.height >= 2, "the demo's 2026-06 spike is flagged in the owner's scope"
    cc = active.group_by("cost_center_id").len().sort("len", "cost_center_id", descending=True)["cost_center_id"][0]
    expected = active.filter(pl.col("cost_center_id") == cc)
    st = statement_for(demo_con, omar, period, cc, FULL_RECOVERY)
    assert st.flags is not None
    assert st.flags["anomaly_id"].to_list() == expected["anomaly_id"].to_list()
    assert st.flag_count == expected.height and st.flag_amount == sum(expected["excess"])
    assert st.flags["title"][0].startswith(f"Cost anomaly {expected['anomaly_id'][0]}:")
    # FinOps reads the same incidents for that cost centre; a resolved one leaves the statement
    fiona = _user(demo_con, "fiona")
    assert statement_for(demo_con, fiona, period, cc, FULL_RECOVERY).flags.equals(st.flags)  # type: ignore[union-attr]
    gone = st.flags["anomaly_id"][0]
    workflow.transition(demo_con, omar, gone, "resolved", comment="fixed")
    after = statement_for(demo_con, omar, period, cc, FULL_RECOVERY)
    assert after.flags is not None and gone not in after.flags["anomaly_id"].to_list()
    assert after.flag_count == st.flag_count - 1


def test_a_business_unit_statement_adds_up_its_cost_centres(demo_con: duckdb.DuckDBPyConnection) -> None:
    """A business unit's statement is its cost centres' together: allocated and charge are their sums to the cent,
    prior month too; an app owner gets one only when the scope holds the whole unit."""
    fiona, omar = get_user(demo_con, "fiona"), get_user(demo_con, "omar")
    assert fiona is not None and omar is not None
    bu = demo_con.execute("SELECT parent_id FROM org_unit WHERE kind = 'cost_center' GROUP BY 1 ORDER BY count(*)"
                          " DESC LIMIT 1").fetchall()[0][0]
    ccs = [r[0] for r in demo_con.execute("SELECT unit_id FROM org_unit WHERE parent_id = ?", [bu]).fetchall()]
    whole = statement_for(demo_con, fiona, "2026-10", bu, FULL_RECOVERY)
    parts = [statement_for(demo_con, fiona, "2026-10", cc, FULL_RECOVERY) for cc in ccs]
    assert whole.allocated == sum((p.allocated for p in parts), D(0)) > 0
    assert whole.charge == sum((p.charge for p in parts), D(0))
    assert whole.prior.charge == sum((p.prior.charge or D(0) for p in parts), D(0))
    assert whole.header_lines()[0].endswith("business unit, all its cost centres")
    assert bu in {u for u, _ in visible_business_units(demo_con, fiona)}
    if not set(ccs) <= set(omar.cost_centers or ()):
        assert bu not in {u for u, _ in visible_business_units(demo_con, omar)}
        with pytest.raises(AccessDenied):
            statement_for(demo_con, omar, "2026-10", bu, FULL_RECOVERY)
