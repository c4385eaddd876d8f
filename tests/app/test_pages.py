"""Every page renders for its roles and shows the numbers the engine (and independent SQL) says it should."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from engine import store
from tests.app.conftest import page_as
from ui.formats import money

pytestmark = pytest.mark.usefixtures("app_env")

PERIOD = "2026-10"  # the last demo month: posted in the demo fixture


def _sql(db: Path, q: str, params: list[object] | None = None) -> list[tuple]:  # type: ignore[type-arg]
    con = store.connect(db)
    try:
        return con.execute(q, params or []).fetchall()
    finally:
        con.close()


def _metric(at, label: str) -> str:  # noqa: ANN001
    for m in at.metric:
        if m.label == label:
            return m.value
    raise AssertionError(f"no metric {label!r}: {[m.label for m in at.metric]}")


def test_overview_total_equals_the_bill(app_db: Path) -> None:
    at = page_as("overview", "eve").run()
    assert not at.exception
    total = _sql(app_db, "SELECT sum(effective_cost) FROM cost_line WHERE billing_period = ?", [PERIOD])[0][0]
    assert _metric(at, "Total spend") == money(total, compact=True)
    posted = _sql(app_db, "SELECT sum(posted_amount), sum(posted_amount) FILTER (WHERE target_id = 'UNALLOCATED')"
                  " FROM allocation_result r JOIN allocation_run a USING (run_key)"
                  " WHERE a.period = ? AND a.status = 'posted'", [PERIOD])[0]
    assert posted[0] == Decimal(total).quantize(Decimal("0.01"))
    assert _metric(at, "Unallocated line") == money(posted[1], compact=True)
    assert _metric(at, "Allocated") == f"{float((posted[0] - posted[1]) / posted[0] * 100):.1f}%"


def test_app_owner_explorer_is_scoped_in_the_engine(app_db: Path) -> None:
    at = page_as("explorer", "omar").run()
    assert not at.exception
    expected = _sql(app_db, """
        SELECT sum(l.effective_cost) FROM cost_line l
        LEFT JOIN org_unit t ON t.unit_id = l.tag_cost_center AND t.kind = 'cost_center'
        LEFT JOIN application tapp ON tapp.app_id = l.tag_application
        LEFT JOIN account_owner ao ON ao.provider = l.provider AND ao.sub_account_id = l.sub_account_id
        WHERE l.billing_period = ? AND coalesce(t.unit_id, tapp.cost_center_id, ao.cost_center_id) IN (
            SELECT cost_center_id FROM user_scope WHERE username = 'omar')""", [PERIOD])[0][0]
    assert _metric(at, "Cost this month").startswith(money(Decimal(expected).quantize(Decimal("0.01"))))
    assert at.dataframe[0].value["name"].tolist() == ["Digital"]  # only his business unit is visible


def test_workshop_sliders_move_charges_and_conserve_cost(app_db: Path) -> None:
    at = page_as("workshop", "fiona").run()
    assert not at.exception
    month = _sql(app_db, "SELECT sum(effective_cost)::DECIMAL(18, 2) FROM cost_line WHERE billing_period = ?",
                 [PERIOD])[0][0]
    unalloc = _sql(app_db, "SELECT sum(posted_amount) FROM allocation_result WHERE target_id = 'UNALLOCATED'"
                   " AND run_key = (SELECT run_key FROM allocation_run WHERE period = ? AND status = 'posted'"
                   " ORDER BY started_at DESC LIMIT 1)", [PERIOD])[0][0]
    charged = month - unalloc                            # "Charged" leaves the unallocated line out (docs/glossary)
    assert _metric(at, "Total charged") == money(charged)
    at.toggle(key="workshop_table_on").set_value(True).run()   # the unit table is sent only when asked for
    before = at.dataframe[0].value.set_index("name")["charge"]
    at.slider(key="w_it_overhead_headcount").set_value(0).run()
    after = at.dataframe[0].value.set_index("name")["charge"]
    assert not at.exception
    assert (before != after).any()                      # business units win and lose …
    assert _metric(at, "Total charged") == money(charged)  # … but every cent is still charged once
    at.slider(key="markup").set_value(5).run()
    with_markup = Decimal(str(at.dataframe[0].value["markup"].sum()))
    assert abs(with_markup - charged * Decimal("0.05")) <= Decimal("0.05")
    assert _metric(at, "Total charged") == money(charged + with_markup)


def test_workshop_saves_a_draft_that_an_approver_can_approve(app_db: Path) -> None:
    at = page_as("workshop", "fiona").run()
    at.slider(key="w_it_overhead_headcount").set_value(30).run()
    at.text_input[0].input("Workshop agreed 30/70 headcount/revenue")
    at.button[0].click().run()
    assert not at.exception
    assert any("pending approval" in s.value for s in at.success)
    name, version, status, body = _sql(app_db, "SELECT name, version, status, body::VARCHAR FROM rule_set"
                                       " ORDER BY version DESC LIMIT 1")[0]
    assert status == "pending" and '"headcount":0.3' in body.replace(" ", "")
    rules = page_as("rules", "fiona").run()
    rules.selectbox(key="rv_choice").set_value((name, version)).run()
    assert [b for b in rules.button if b.label == "Approve"][0].disabled  # the author cannot approve
    rules = page_as("rules", "admin").run()
    rules.selectbox(key="rv_choice").set_value((name, version)).run()
    rules.text_area(key="rv_approve_comment").input("Workshop outcome checked")  # approving needs a comment
    [b for b in rules.button if b.label == "Approve"][0].click().run()
    assert not rules.exception
    assert _sql(app_db, "SELECT status, approver FROM rule_set WHERE name = ? AND version = ?",
                [name, version])[0] == ("approved", "admin")


def test_scenarios_page_compares_three_models(app_db: Path) -> None:
    at = page_as("scenarios", "eve").run()
    assert not at.exception
    posted = _sql(app_db, "SELECT sum(posted_amount) FROM allocation_result r JOIN allocation_run a USING (run_key)"
                  " WHERE a.period = ? AND a.status = 'posted' AND r.target_id <> 'UNALLOCATED'",
                  [PERIOD])[0][0]  # "Charged" excludes the unallocated line (docs/glossary.md)
    assert _metric(at, "Showback") == money(posted, compact=True)
    assert _metric(at, "Full-recovery chargeback") == money(posted, compact=True)
    assert len(at.metric) == 3


def test_statement_for_app_owner_matches_the_run(app_db: Path) -> None:
    at = page_as("statements", "omar").run()
    assert not at.exception
    assert at.selectbox(key="stmt_cc").options == ["CC015 · E-commerce Platform", "CC016 · Mobile Apps",
                                                   "CC017 · Search & Recommendations"]
    cc = at.selectbox(key="stmt_cc").value
    posted = _sql(app_db, "SELECT sum(posted_amount) FROM allocation_result r JOIN allocation_run a USING (run_key)"
                  " WHERE a.period = ? AND r.cost_center_id = ?", [PERIOD, cc])[0][0]
    assert _metric(at, "Allocated cost") == money(posted)
    assert _metric(at, "Charge") == money(posted)  # full-recovery chargeback charges exactly what was allocated
    assert len(at.get("download_button")) == 3


def test_month_close_is_idempotent(app_db: Path) -> None:
    at = page_as("month_close", "fiona").run()
    at.button[0].click().run()
    assert not at.exception
    month = _sql(app_db, "SELECT sum(effective_cost)::DECIMAL(18, 2) FROM cost_line WHERE billing_period = ?",
                 [PERIOD])[0][0]
    assert _metric(at, "Cost in") == money(month) and _metric(at, "Posted") == money(month)
    runs_before = _sql(app_db, "SELECT count(*) FROM allocation_run WHERE period = ?", [PERIOD])[0][0]
    at.button[0].click().run()
    assert _sql(app_db, "SELECT count(*) FROM allocation_run WHERE period = ?", [PERIOD])[0][0] == runs_before


def test_audit_trail_verifies_the_chain(app_db: Path) -> None:
    at = page_as("audit_trail", "audrey").run()
    assert not at.exception
    n = _sql(app_db, "SELECT count(*) FROM audit_event")[0][0]
    assert n > 0 and any(f"{n} events verified" in s.value for s in at.success)


def test_engine_refuses_an_out_of_scope_statement(app_db: Path) -> None:
    from engine.access.scope import AccessDenied
    from engine.access.statement_access import statement_for
    from engine.access.users import get_user
    from engine.costmodels.presets import FULL_RECOVERY

    con = duckdb.connect(str(app_db))
    try:
        omar = get_user(con, "omar")
        assert omar is not None
        with pytest.raises(AccessDenied):
            statement_for(con, omar, PERIOD, "CC001", FULL_RECOVERY)
        assert statement_for(con, omar, PERIOD, "CC015", FULL_RECOVERY).cost_center_id == "CC015"
    finally:
        con.close()
