"""The Anomalies page and the live anomaly panels, run as real scripts over the demo store (its anomalies were
persisted by the demo build: the month close and the demo's own detection of every month)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import store
from tests.app.conftest import page_as

pytestmark = pytest.mark.usefixtures("app_env")


def _sql(db: Path, q: str, params: list[object] | None = None) -> list[tuple]:  # type: ignore[type-arg]
    con = store.connect(db)
    try:
        return con.execute(q, params or []).fetchall()
    finally:
        con.close()


def _id_of(db: Path, kind: str, scope_id: str) -> str:
    return str(_sql(db, "SELECT anomaly_id FROM anomaly WHERE scope_kind = ? AND scope_id = ?"
                        " AND rule <> 'budget_threshold'", [kind, scope_id])[0][0])


def _texts(at) -> list[str]:  # noqa: ANN001
    return [t.value for t in at.text]


def test_an_executive_sees_every_flag_read_only(app_db: Path) -> None:
    at = page_as("anomalies", "eve").run()
    assert not at.exception and not at.error
    listed = set(at.dataframe[0].value["anomaly_id"])
    active = {r[0] for r in _sql(app_db, "SELECT anomaly_id FROM anomaly WHERE status IN "
                                         "('open', 'acknowledged', 'ticketed') AND rule <> 'budget_threshold'")}
    assert listed == active and len(active) >= 3          # spend anomalies by default; budget overruns apart
    assert any("Read only" in c.value for c in at.caption)
    assert not [b for b in at.button if b.label in ("Apply", "Open ticket")] and not at.radio   # no triage
    # the largest is first and opens by default: Mobile App Backend's compute in 2026-06
    assert "Application: Mobile App Backend (APP018)" in _texts(at)
    assert any(m.label == "Excess" for m in at.metric)
    # why it moved: the split of the change, its parts adding up to the total, usage named as the main cause
    why = at.dataframe[1].value
    assert list(why["part"]) == ["usage", "unit rate", "new lines", "vanished lines", "Total change"]
    amounts = dict(zip(why["part"], why["amount"], strict=True))
    assert sum(amounts[p] for p in list(amounts)[:-1]) == amounts["Total change"] > 0
    assert amounts["usage"] == max(amounts[p] for p in list(amounts)[:-1])
    total = f"+\\${amounts['Total change']:,.2f}"        # the page's sentence, Markdown-escaped by ui.formats.plain
    assert any(i.value.split(" ", 1)[0] in ("All", "Mostly") and i.value.split(" ", 2)[1] == "usage:"
               and f" of {total}, 2026-06 against " in i.value for i in at.info)
    # executives see the incident's totals; its resource lines need a grant (engine/access/grants.py)
    assert any("resource lines need a grant" in i.value for i in at.info)


def test_an_app_owner_sees_only_their_cost_centres(app_db: Path) -> None:
    at = page_as("anomalies", "omar").run()
    assert not at.exception and not at.error
    listed = list(at.dataframe[0].value["anomaly_id"])
    scope = {r[0] for r in _sql(app_db, "SELECT cost_center_id FROM user_scope WHERE username = 'omar'")}
    theirs = {r[0] for r in _sql(app_db, "SELECT anomaly_id FROM anomaly WHERE cost_center_id IN "
                                         "(SELECT unnest(?::VARCHAR[])) AND status IN ('open', 'acknowledged',"
                                         " 'ticketed') AND rule <> 'budget_threshold'", [sorted(scope)])}
    others = {r[0] for r in _sql(app_db, "SELECT anomaly_id FROM anomaly WHERE cost_center_id IS NULL OR NOT "
                                         "list_contains(?::VARCHAR[], cost_center_id)", [sorted(scope)])}
    assert set(listed) == theirs and others and not set(listed) & others
    assert {o.split(" · ")[0] for o in at.selectbox(key="anomaly").options} == theirs
    assert [b for b in at.button if b.label == "Apply"]        # app owners triage their own
    # the resource behind the spike, day by day: cost, quantity and unit price
    daily = at.dataframe[3].value
    assert list(daily.columns) == ["day", "unit", "cost", "quantity", "unit_price"] and len(daily) > 0
    # a deep link to another cost centre's anomaly shows nothing of it
    other = _id_of(app_db, "account", "EA-80441275")
    at = page_as("anomalies", "omar")
    at.query_params["anomaly"] = other
    at.run()
    assert not at.exception and other not in " ".join(_texts(at))


def test_finops_acknowledges_and_the_status_changes(app_db: Path) -> None:
    aid = _id_of(app_db, "cost_center", "CC016")
    at = page_as("anomalies", "fiona").run()
    at.selectbox(key="anomaly").select_index(
        [o.split(" · ")[0] for o in at.selectbox(key="anomaly").options].index(aid)).run()
    assert "Status: Open" in _texts(at)
    at.radio(key="triage_action").set_value("acknowledged")
    at.text_area(key="triage_comment").input("Mobile team confirms the load test ran all month")
    next(b for b in at.button if b.label == "Apply").click().run()
    assert not at.exception and not at.error
    assert any(f"{aid} is now acknowledged" in s.value for s in at.success)
    assert "Status: Acknowledged · owner fiona · Mobile team confirms the load test ran all month" in _texts(at)
    assert _sql(app_db, "SELECT status, owner FROM anomaly WHERE anomaly_id = ?", [aid]) == [("acknowledged", "fiona")]
    assert _sql(app_db, "SELECT actor, detail->>'from', detail->>'to' FROM audit_event WHERE entity = 'anomaly' "
                        "AND entity_id = ? AND action = 'anomaly.acknowledged'", [aid]) == [
        ("fiona", "open", "acknowledged")]
    assert at.radio(key="triage_action").options == ["Resolve", "False positive"]


def test_the_overview_shows_the_open_flags(app_db: Path) -> None:
    at = page_as("overview", "eve").run()
    assert not at.exception
    n, over = _sql(app_db, "SELECT count(*) FILTER (WHERE rule <> 'budget_threshold'), count(*) FILTER (WHERE"
                           " rule = 'budget_threshold') FROM anomaly WHERE status IN ('open', 'acknowledged',"
                           " 'ticketed')")[0]
    assert next(m.value for m in at.metric if m.label == "Open anomalies") == f"{n:,}"
    assert next(m.value for m in at.metric if m.label == "Over budget") == f"{over:,}" and over > 0
    assert next(m.value for m in at.metric if m.label == "Amount at risk").startswith("$")
    texts = _texts(at)
    assert "Mobile App Backend" in texts and "2026-06 · Month over month" in texts


def test_the_explorer_marks_flagged_rows_and_shows_a_resource_by_day(app_db: Path) -> None:
    at = page_as("explorer", "omar").run()
    at.selectbox(key="explorer_period").set_value("2026-06").run()
    for key, value in (("drill_business_unit", "Digital"), ("drill_cost_center", "Mobile Apps"),
                       ("drill_application", "Mobile App Backend"),
                       ("drill_service_name", "Amazon Elastic Compute Cloud")):
        rows = at.dataframe[0].value
        if key == "drill_cost_center":
            marked = dict(zip(rows["name"], rows["anomalies"], strict=True))
            assert marked["Mobile Apps"].startswith("⚠") and marked.get("E-commerce Platform", "") == ""
        at.selectbox(key=key).set_value(value).run()
        assert not at.exception
    resource = at.dataframe[0].value["name"][0]
    at.selectbox(key="drill_resource_id").set_value(resource).run()
    assert not at.exception and not at.error
    assert resource in _texts(at)
    daily = at.dataframe[0].value
    assert list(daily.columns) == ["day", "unit", "cost", "quantity", "unit_price"] and len(daily) > 0
    assert {m.label for m in at.metric} >= {"Cost this month", "Quantity", "Average unit price"}


def test_an_allocation_flag_explains_its_move_to_the_cent(app_db: Path) -> None:
    """Closing May and June posts Mobile Apps' allocated charge, whose June rise the close flags; the page splits
    it into the decomposition's parts, which add up to the posted change read here from allocation_result."""
    from engine.allocation.runs import run_allocation

    con = store.connect(app_db)
    try:
        for period in ("2026-05", "2026-06"):
            run_allocation(con, period, "demo_default", actor="fiona")
    finally:
        con.close()
    aid = _sql(app_db, "SELECT anomaly_id FROM anomaly WHERE rule = 'allocation_change' AND scope_id = 'CC016' "
                       "AND period = '2026-06'")[0][0]
    posted = {p: c for p, c in _sql(app_db, "SELECT r.period, sum(r.posted_amount) FROM allocation_result r "
                                            "JOIN allocation_run u USING (run_key) WHERE u.period IN ('2026-05', "
                                            "'2026-06') AND r.cost_center_id = 'CC016' GROUP BY 1")}
    at = page_as("anomalies", "omar")
    at.query_params["anomaly"] = aid
    at.run()
    assert not at.exception and not at.error
    why = at.dataframe[1].value
    assert list(why["part"]) == ["usage", "unit rate", "driver values", "master data (org)", "rule version",
                                 "restated since posting", "Total change"]
    amounts = dict(zip(why["part"], why["amount"], strict=True))
    assert amounts["Total change"] == posted["2026-06"] - posted["2026-05"] > 0
    assert sum(amounts[p] for p in list(amounts)[:-1]) == amounts["Total change"]
    assert amounts["restated since posting"] == 0 and amounts["rule version"] == 0
    assert any(i.value.split(" ", 2)[1] == "usage:" and "2026-06 against 2026-05" in i.value for i in at.info)
