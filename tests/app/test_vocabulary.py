"""One vocabulary on screen: what the overview, explorer and scenario pages show, read back against the store."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from engine import store
from engine.costmodels.scenarios import Scenario, save_scenario
from engine.ingest.contract.frames import stored_columns
from engine.rules import versions
from tests.app.conftest import page_as
from ui.formats import metric_delta, money

pytestmark = pytest.mark.usefixtures("app_env")
PERIOD = "2026-10"


def _sql(db: Path, q: str, params: list[object] | None = None) -> list[tuple]:  # type: ignore[type-arg]
    con = store.connect(db)
    try:
        return con.execute(q, params or []).fetchall()
    finally:
        con.close()


def _metric(at, label: str):  # noqa: ANN001, ANN202
    return next(m for m in at.metric if m.label == label)


def _posted(db: Path) -> tuple[Decimal, Decimal]:
    return _sql(db, "SELECT sum(posted_amount), sum(posted_amount) FILTER (WHERE target_id = 'UNALLOCATED')"
                " FROM allocation_result r JOIN allocation_run a USING (run_key) WHERE a.period = ?"
                " AND a.status = 'posted'", [PERIOD])[0]


def test_zero_delta_is_unchanged_not_a_red_arrow() -> None:
    assert metric_delta(Decimal("0.00"), "$0.00") == {"delta": "unchanged", "delta_color": "off", "delta_arrow": "off"}
    assert metric_delta(None, "x") == {"delta": None}
    assert metric_delta(Decimal("1.50"), "$1.50")["delta"] == "$1.50"


def test_overview_charged_excludes_the_unallocated_line_and_says_so(app_db: Path) -> None:
    # a just-saved workshop scenario and its pending rule version must not become the overview's model
    con = store.connect(app_db)
    try:
        save_scenario(con, Scenario(name="Workshop draft", model="markup", markup_pct=Decimal(20)), "fiona")
        rv = versions.as_of(con, "demo_default", PERIOD)
        v = versions.create_draft(con, rv.rule_set, "fiona", "try", PERIOD, parent_version=rv.version)
        versions.submit(con, "demo_default", v, "fiona")
    finally:
        con.close()
    at = page_as("overview", "eve").run()
    assert not at.exception
    assert at.selectbox(key="overview_scenario").value == "Full-recovery chargeback"
    assert "Workshop draft" not in at.selectbox(key="overview_scenario").options
    posted, unalloc = _posted(app_db)
    assert _metric(at, "Charged").value == money(posted - unalloc, compact=True)
    assert any("Unallocated line excluded" in c.value and "demo_default v1" in c.value for c in at.caption)


def test_overview_compares_calendar_neighbours_and_flags_stray_months(app_db: Path) -> None:
    con = store.connect(app_db)
    try:
        cols = ", ".join(stored_columns("cost_line"))
        con.execute(f"INSERT INTO cost_line ({cols}) SELECT * REPLACE ('2024-09' AS billing_period) "
                    f"FROM (SELECT {cols} FROM cost_line WHERE billing_period = ? LIMIT 5)", [PERIOD])
    finally:
        con.close()
    at = page_as("overview", "eve").run()
    assert not at.exception
    options = at.selectbox(key="overview_period").options
    assert options[0] == PERIOD and options[-1] == "2024-09 · stray rows only"
    total = _metric(at, "Total spend")
    months = dict(_sql(app_db, "SELECT billing_period, sum(effective_cost) FROM cost_line GROUP BY 1"))
    change = (months[PERIOD] - months["2026-09"]) / months["2026-09"] * 100
    assert total.delta == f"{float(change):.1f}% vs 2026-09"
    at.selectbox(key="overview_period").set_value("2025-11").run()   # the first month: its neighbour is empty
    total = _metric(at, "Total spend")
    assert total.delta is None or total.delta == ""
    assert any("No comparison: no data for 2025-10." in c.value for c in at.caption)
    assert any("No movers: no data for 2025-10." in c.value for c in at.caption)
    at.selectbox(key="overview_period").set_value("2024-09").run()
    assert any("holds only stray rows" in w.value for w in at.warning)
    assert any("Left out of the trends: 2024-09" in c.value for c in at.caption)


def test_scenarios_show_where_the_money_went(app_db: Path) -> None:
    con = store.connect(app_db)
    try:
        keep = Scenario(name="Keep central", model="full_recovery", unused_commitment_policy="keep_central",
                        unused_commitment_pools=["unused_commitments"])
        save_scenario(con, keep, "fiona")
        save_scenario(con, keep.model_copy(update={"name": "On demand equivalent",
                                                   "unused_commitment_policy": "on_demand_equivalent"}), "fiona")
    finally:
        con.close()
    at = page_as("scenarios", "fiona").run()
    at.multiselect(key="sc_chosen").set_value(["Full-recovery chargeback", "Keep central", "On demand equivalent"])
    at.run()
    assert not at.exception
    posted, unalloc = _posted(app_db)
    unused = _sql(app_db, "SELECT sum(posted_amount) FROM allocation_result r JOIN allocation_run a USING (run_key)"
                  " WHERE a.period = ? AND a.status = 'posted' AND source_pool = 'unused_commitments'"
                  " AND target_id <> 'UNALLOCATED'", [PERIOD])[0][0]
    table = next(d.value for d in at.dataframe if "commitment_central" in d.value.columns).set_index("scenario")
    assert Decimal(str(table.loc["Keep central", "commitment_central"])) == unused
    assert Decimal(str(table.loc["Keep central", "charged"])) == posted - unalloc - unused
    assert Decimal(str(table.loc["Keep central", "unallocated"])) == unalloc
    uplift = _sql(app_db, "SELECT sum(l.list_cost - l.effective_cost) FROM cost_line l"
                  " LEFT JOIN org_unit t ON t.unit_id = l.tag_cost_center AND t.kind = 'cost_center'"
                  " LEFT JOIN account_owner ao ON ao.provider = l.provider AND ao.sub_account_id = l.sub_account_id"
                  " WHERE l.billing_period = ? AND l.commitment_discount_status = 'Used'"
                  " AND coalesce(t.unit_id, ao.cost_center_id) IS NOT NULL", [PERIOD])[0][0]
    od = Decimal(str(table.loc["On demand equivalent", "charged"]))
    assert abs(od - (posted - unalloc - unused + uplift)) <= Decimal("0.01")
    assert _metric(at, "Keep central").value != _metric(at, "On demand equivalent").value
    # the metric of a scenario equal to the baseline is "unchanged", not ↑ $0.00
    at.multiselect(key="sc_chosen").set_value(["Showback", "Full-recovery chargeback"]).run()
    at.selectbox(key="sc_baseline").set_value("Showback").run()
    assert _metric(at, "Full-recovery chargeback").delta == "unchanged"
    wide = at.dataframe[0].value
    assert "Unallocated (carried centrally)" in wide["name"].tolist()


def test_explorer_shows_names_and_calendar_neighbour(app_db: Path) -> None:
    at = page_as("explorer", "fiona")
    at.session_state["explorer_path"] = {"business_unit": "Digital", "cost_center": "E-commerce Platform"}
    at.run()
    assert not at.exception
    why = next(d.value for d in at.dataframe if "posted_amount" in d.value.columns)
    assert set(why["cost_center"]) == {"E-commerce Platform"}
    assert why["application"].dropna().map(lambda n: not n.startswith("APP")).all()
    months = at.dataframe[0].value
    assert "Unattributed" not in months["name"].tolist()   # Unattributed means "no cost centre", nothing else
    assert _metric(at, "Cost this month").delta.endswith("vs 2026-09")


def test_one_colour_per_business_unit_whatever_else_is_charted() -> None:
    from ui import charts

    colours = charts.business_unit_colours()
    alone = charts.colour_scale(["Retail", "Digital"]).to_dict()
    joined = charts.colour_scale(["Retail", "Digital", "Unattributed", "Wholesale"]).to_dict()
    pick = lambda s, n: s["range"][s["domain"].index(n)]  # noqa: E731
    assert pick(alone, "Retail") == pick(joined, "Retail") == colours["Retail"]
    assert pick(alone, "Digital") == pick(joined, "Digital") == colours["Digital"]
    assert pick(joined, "Unattributed") == charts.FIXED["Unattributed"]
    bu = [c for n, c in colours.items() if n not in charts.FIXED]
    assert len(set(bu)) == len(bu) == 6 and not set(bu) & set(charts.FIXED.values())
