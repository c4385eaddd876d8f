"""The anomaly workflow on a real store: flags become incidents once, people triage them within their scope, every
step is audited, false positives teach the detector, tickets land in a real (local) HTTP server, and the jobs detect
without being asked — a bill with a spike, loaded through the ingest pipeline, raises a flag naming its lines."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from engine.access.users import User
from engine.errors import AccessDenied, InputError, NotFound
from engine.ingest.pipeline import ingest_file
from engine.insights import explorer
from engine.insights.anomalies import jobs, workflow
from engine.insights.anomalies.monthly import RULE as MONTHLY
from engine.insights.anomalies.monthly import scan_months
from engine.insights.anomalies.scan import SCHEMA
from engine.insights.anomalies.workflow import (
    detect,
    drivers,
    flags_version,
    get_anomaly,
    list_anomalies,
    open_ticket_for,
    persist,
    summary,
    transition,
)
from engine.outputs.tickets import TicketTarget, add_target
from tests.unit.outputs.test_tickets import FAST, TOKEN, TOKEN_ENV, Remote

FIONA = User("fiona", "Fiona Finops", "finops", None)
EVE = User("eve", "Eve Exec", "executive", None)
WES = User("wes", "Wes Web", "app_owner", frozenset({"CC-WEB"}))
DORA = User("dora", "Dora Data", "app_owner", frozenset({"CC-DATA"}))

START = date(2026, 1, 5)          # a Monday; ten weeks of data: 2026-01-05 … 2026-03-15
DAYS = 70
WEEK = (date(2026, 3, 9), date(2026, 3, 15))
# (service, resource, cost centre, weekday amount); the weekend runs at 60 %
SERVICES = [("Amazon EC2", "i-web", "CC-WEB", Decimal("800.00")),
            ("Amazon RDS", "db-data", "CC-DATA", Decimal("500.00"))]
SPIKES = {("i-web", date(2026, 3, 10)): Decimal("1500.00"), ("i-web", date(2026, 3, 11)): Decimal("1400.00"),
          ("db-data", date(2026, 3, 12)): Decimal("900.00")}


def _amount(base: Decimal, day: date) -> Decimal:
    i = (day - START).days
    wobble = Decimal(1) + Decimal((i * 37) % 7 - 3) / 100   # ±3 %, deterministic
    weekend = Decimal("0.6") if day.weekday() >= 5 else Decimal(1)
    return (base * weekend * wobble).quantize(Decimal("0.01"))


def _lines(con: duckdb.DuckDBPyConnection, first: date, days: int, spikes: dict[tuple[str, date], Decimal]) -> None:
    rows: list[tuple[object, ...]] = []
    for i in range(days):
        d = first + timedelta(days=i)
        day = datetime.combine(d, datetime.min.time())
        for service, resource, cc, base in SERVICES:
            amount = _amount(base, d) + spikes.get((resource, d), Decimal(0))
            rows.append((day.strftime("%Y-%m"), day, day + timedelta(days=1), "111122223333", service, resource,
                         amount, amount, float(amount) / 0.5, cc))
    con.executemany(
        "INSERT INTO cost_line (billing_period, charge_period_start, charge_period_end, provider, sub_account_id,"
        " service_name, resource_id, billed_cost, effective_cost, consumed_quantity, consumed_unit,"
        " billing_currency, tag_cost_center, batch_id)"
        " VALUES (?, ?, ?, 'aws', ?, ?, ?, ?, ?, ?, 'Hours', 'USD', ?, 'b1')", rows)


@pytest.fixture
def store(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    con.execute("INSERT INTO org_unit VALUES ('BU1', 'Digital', 'business_unit', NULL, NULL),"
                " ('CC-WEB', 'Web', 'cost_center', 'BU1', NULL), ('CC-DATA', 'Data', 'cost_center', 'BU1', NULL)")
    _lines(con, START, DAYS, SPIKES)
    return con


def _incident(con: duckdb.DuckDBPyConnection, kind: str, scope_id: str, user: User = FIONA) -> dict[str, Any]:
    rows = list_anomalies(con, user, scope_kind=kind).filter(pl.col("scope_id") == scope_id)
    assert rows.height == 1, rows
    return rows.row(0, named=True)


def _actions(con: duckdb.DuckDBPyConnection, prefix: str = "anomaly") -> list[str]:
    return [r[0] for r in con.execute("SELECT action FROM audit_event WHERE action LIKE ? ORDER BY seq",
                                      [prefix + "%"]).fetchall()]


# -- persistence ------------------------------------------------------------------------------------------------------

def test_detection_persists_each_incident_once_and_merges_consecutive_days(store: duckdb.DuckDBPyConnection) -> None:
    first = detect(store, WEEK[0], date(2026, 3, 10), "scheduler")      # the first spike day only
    web = _incident(store, "resource", "i-web")
    assert (web["first_date"], web["last_date"], web["flagged_days"]) == (date(2026, 3, 10),) * 2 + (1,)
    assert first.created and web["anomaly_id"] in first.created

    second = detect(store, *WEEK, "scheduler")                            # the whole week: the 11th joins
    web = _incident(store, "resource", "i-web")
    assert web["anomaly_id"] in second.extended and web["anomaly_id"] not in second.created
    assert (web["first_date"], web["last_date"], web["flagged_days"]) == (date(2026, 3, 10), date(2026, 3, 11), 2)
    days = store.execute("SELECT actual, expected, excess FROM anomaly_flag WHERE anomaly_id = ? ORDER BY date",
                         [web["anomaly_id"]]).fetchall()
    assert web["excess"] == sum((r[2] for r in days), Decimal(0)) > Decimal("2800")
    assert web["actual"] == sum((r[0] for r in days), Decimal(0))
    assert web["cost_center_id"] == "CC-WEB" and web["status"] == "open"
    # one spike per cost centre on the same account: the account incident spans both cost centres, so it has none
    account = _incident(store, "account", "111122223333")
    assert account["cost_center_id"] is None and account["flagged_days"] == 3

    before = store.execute("SELECT count(*) FROM anomaly_flag").fetchall()[0][0]
    anomalies = list_anomalies(store, FIONA).height
    events = len(_actions(store))
    again = detect(store, *WEEK, "scheduler")                             # the same data again: nothing new
    assert (again.stored, again.refreshed, again.created, again.extended) == (0, 0, [], [])
    assert store.execute("SELECT count(*) FROM anomaly_flag").fetchall()[0][0] == before
    assert list_anomalies(store, FIONA).height == anomalies and len(_actions(store)) == events
    assert _actions(store) == ["anomaly.detect", "anomaly.detect"]


def test_a_flag_after_a_closed_incident_opens_a_new_one(store: duckdb.DuckDBPyConnection) -> None:
    flag = {"scope_kind": "resource", "scope_id": "i-x", "rule": "seasonal", "actual": Decimal("900.00"),
            "expected": Decimal("100.00"), "excess": Decimal("800.00"), "score": 9.0}
    window = (date(2026, 3, 1), date(2026, 3, 31))
    persist(store, pl.DataFrame([{**flag, "date": date(2026, 3, 2)}], schema=SCHEMA), "t", window=window)
    (aid,) = list_anomalies(store, FIONA)["anomaly_id"].to_list()
    transition(store, FIONA, aid, "resolved", comment="rightsized")
    later = persist(store, pl.DataFrame([{**flag, "date": date(2026, 3, 3)}], schema=SCHEMA), "t", window=window)
    assert len(later.created) == 1 and later.created[0] != aid
    # monthly flags of consecutive months are one incident
    month = {**flag, "scope_kind": "service", "scope_id": "Storage", "rule": MONTHLY}
    persist(store, pl.DataFrame([{**month, "date": date(2026, 5, 1)}, {**month, "date": date(2026, 6, 1)}],
                                schema=SCHEMA), "t", window=(date(2026, 5, 1), date(2026, 6, 30)))
    storage = _incident(store, "service", "Storage")
    assert (storage["first_date"], storage["last_date"], storage["excess"]) == (
        date(2026, 5, 1), date(2026, 6, 1), Decimal("1600.00"))
    assert workflow.span_text(MONTHLY, storage["first_date"], storage["last_date"]) == "2026-05 to 2026-06"


# -- triage -----------------------------------------------------------------------------------------------------------

def test_transitions_are_checked_and_audited(store: duckdb.DuckDBPyConnection) -> None:
    detect(store, *WEEK, "scheduler")
    aid = _incident(store, "resource", "i-web")["anomaly_id"]
    v0 = flags_version(store, FIONA)
    a = transition(store, FIONA, aid, "acknowledged", comment="  looking at the autoscaler  ")
    assert (a.status, a.owner, a.comment, a.updated_by) == ("acknowledged", "fiona", "looking at the autoscaler",
                                                           "fiona")
    assert flags_version(store, FIONA) != v0
    with pytest.raises(InputError, match="can move to resolved, false_positive, not acknowledged"):
        transition(store, FIONA, aid, "acknowledged")
    with pytest.raises(InputError, match="open_ticket_for"):
        transition(store, FIONA, aid, "ticketed")
    with pytest.raises(AccessDenied, match="eve \\(executive\\) cannot triage"):
        transition(store, EVE, aid, "resolved")
    with pytest.raises(AccessDenied, match="not signed in"):
        transition(store, None, aid, "resolved")
    with pytest.raises(NotFound):
        transition(store, FIONA, "A-999", "resolved")
    done = transition(store, FIONA, aid, "resolved", comment="scaled back down", owner="wes")
    assert done.status == "resolved" and done.owner == "wes" and not done.active
    with pytest.raises(InputError, match="it is closed"):
        transition(store, FIONA, aid, "false_positive")
    trail = workflow.history(store, FIONA, aid)
    assert trail.select("who", "action", "from", "to", "owner").rows() == [
        ("fiona", "anomaly.acknowledged", "open", "acknowledged", "fiona"),
        ("fiona", "anomaly.resolved", "acknowledged", "resolved", "wes")]
    assert trail["comment"].to_list() == ["looking at the autoscaler", "scaled back down"]
    assert store.execute("SELECT resolved_at IS NOT NULL FROM anomaly WHERE anomaly_id = ?", [aid]).fetchall()[0][0]
    assert summary(store, FIONA).active == list_anomalies(store, FIONA, "active").height


def test_app_owners_see_and_triage_only_their_cost_centres_in_the_engine(store: duckdb.DuckDBPyConnection) -> None:
    detect(store, *WEEK, "scheduler")
    web = _incident(store, "resource", "i-web")["anomaly_id"]
    data = _incident(store, "resource", "db-data")["anomaly_id"]
    account = _incident(store, "account", "111122223333")["anomaly_id"]
    seen = set(list_anomalies(store, DORA)["cost_center_id"].to_list())
    assert seen == {"CC-DATA"}                                # filtered in SQL, not in a page
    assert list_anomalies(store, None).is_empty() and summary(store, None).active == 0
    for aid in (web, account):                                # another cost centre's, and a mixed one
        with pytest.raises(AccessDenied, match="outside their cost centres"):
            transition(store, DORA, aid, "acknowledged")
        with pytest.raises(AccessDenied):
            drivers(store, DORA, aid)
        with pytest.raises(AccessDenied):
            get_anomaly(store, DORA, aid)
    assert get_anomaly(store, FIONA, web).status == "open"   # nothing changed
    assert transition(store, DORA, data, "acknowledged").owner == "dora"
    assert transition(store, WES, web, "acknowledged").owner == "wes"
    assert flags_version(store, DORA) != flags_version(store, WES)


def test_a_false_positive_pattern_suppresses_the_next_detection(store: duckdb.DuckDBPyConnection) -> None:
    detect(store, *WEEK, "scheduler")
    data = _incident(store, "resource", "db-data")                # Thursday 2026-03-12
    transition(store, FIONA, data["anomaly_id"], "false_positive", pattern="weekday",
               comment="Thursday batch reindex")
    (p,) = workflow.list_patterns(store, FIONA).rows(named=True)
    assert (p["scope_kind"], p["scope_id"], p["rule"], p["weekday"], p["day_of_month"]) == (
        "resource", "db-data", "seasonal", 3, None)
    assert _actions(store, "anomaly_pattern") == ["anomaly_pattern.add"]
    # the next week: the batch again on Thursday, and a real spike on Friday
    _lines(store, date(2026, 3, 16), 7, {("db-data", date(2026, 3, 19)): Decimal("900.00"),
                                          ("db-data", date(2026, 3, 20)): Decimal("900.00")})
    nxt = detect(store, date(2026, 3, 16), date(2026, 3, 22), "scheduler")
    assert nxt.suppressed >= 1
    flagged = store.execute("SELECT date FROM anomaly_flag WHERE scope_kind = 'resource' AND scope_id = 'db-data' "
                            "ORDER BY date").fetchall()
    assert [r[0] for r in flagged] == [date(2026, 3, 12), date(2026, 3, 20)]   # Thursday the 19th not raised
    detail = store.execute("SELECT detail->>'suppressed_by' FROM audit_event WHERE action = 'anomaly.detect' "
                           "ORDER BY seq DESC LIMIT 1").fetchall()[0][0]
    assert p["pattern_id"] in detail
    workflow.deactivate_pattern(store, FIONA, p["pattern_id"])
    detect(store, date(2026, 3, 16), date(2026, 3, 22), "scheduler")
    assert store.execute("SELECT count(*) FROM anomaly_flag WHERE scope_id = 'db-data' AND date = '2026-03-19'"
                         ).fetchall()[0][0] == 1
    with pytest.raises(InputError, match="only when an anomaly is marked a false positive"):
        transition(store, FIONA, _incident(store, "resource", "i-web")["anomaly_id"], "resolved", pattern="weekday")


# -- tickets ----------------------------------------------------------------------------------------------------------

@pytest.fixture
def remote(monkeypatch: pytest.MonkeyPatch) -> Iterator[Remote]:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    r = Remote()
    r.start()
    yield r
    r.stop()


def test_a_ticket_opened_through_a_real_http_server_is_stored_on_the_anomaly(store: duckdb.DuckDBPyConnection,
                                                                            remote: Remote) -> None:
    detect(store, *WEEK, "scheduler")
    aid = _incident(store, "resource", "i-web")["anomaly_id"]
    add_target(store, TicketTarget("jira-finops", "jira", remote.base, TOKEN_ENV, project_key="FIN"), "admin")
    with pytest.raises(AccessDenied):
        open_ticket_for(store, aid, "jira-finops", DORA, retry=FAST)
    assert remote.requests == []                                  # refused before anything was sent
    link = f"http://apportion.local/anomalies?anomaly={aid}"
    ticket = open_ticket_for(store, aid, "jira-finops", WES, link=link, retry=FAST)
    (issue,) = remote.issues
    assert ticket.is_open and ticket.reference == issue["key"] == "FIN-1"
    assert issue["fields"]["summary"].startswith(f"Cost anomaly {aid}: resource i-web")
    assert link in issue["fields"]["description"]
    a = get_anomaly(store, FIONA, aid)
    assert (a.status, a.ticket_ref, a.ticket_url, a.ticket_id) == ("ticketed", "FIN-1", ticket.url, ticket.ticket_id)
    assert a.ticket_url == f"{remote.base}/browse/FIN-1"
    again = open_ticket_for(store, aid, "jira-finops", FIONA, retry=FAST)
    assert again.ticket_id == ticket.ticket_id and len(remote.issues) == 1   # one ticket per anomaly
    assert [r for r in workflow.history(store, FIONA, aid)["ticket"].to_list() if r] == ["FIN-1"]
    assert transition(store, WES, aid, "resolved").status == "resolved"


# -- the jobs ---------------------------------------------------------------------------------------------------------

FOCUS_HEADER = ["ServiceProviderName", "BillingAccountId", "SubAccountId", "BillingCurrency", "BillingPeriodStart",
                "ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory", "BilledCost", "EffectiveCost",
                "ServiceName", "ResourceId", "SkuId", "ConsumedQuantity", "ConsumedUnit", "Tags"]
PRICE = {"vm-1": Decimal("0.40"), "db-1": Decimal("0.25")}      # per hour


def _bill(path: Path, first: date, days: int, spike: dict[date, int] | None = None) -> Path:
    """A FOCUS export: two resources a day, priced by the hour; `spike` multiplies vm-1's hours on some days."""
    rows = []
    for i in range(days):
        d = first + timedelta(days=i)
        period = d.replace(day=1).isoformat()
        n = (d - START).days      # the wobble follows the calendar, so every bill continues the same pattern
        for res, sku, service, hours in (("vm-1", "BoxUsage:m6i.xlarge", "Amazon EC2", 2000),
                                         ("db-1", "InstanceUsage:db.r6g", "Amazon RDS", 1800)):
            weekend = 0.6 if d.weekday() >= 5 else 1.0
            qty = round(hours * weekend * (1 + ((n * 37) % 7 - 3) / 100), 2)
            if res == "vm-1" and spike and d in spike:
                qty *= spike[d]
            cost = (Decimal(str(qty)) * PRICE[res]).quantize(Decimal("0.01"))
            rows.append(["AWS", "BA-1", "111122223333", "USD", period, d.isoformat(),
                         (d + timedelta(days=1)).isoformat(), "Usage", cost, cost, service, res, sku, qty, "Hours",
                         '{"CostCenter": "CC-WEB"}'])
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([FOCUS_HEADER, *rows])
    return path


def test_ingest_of_a_bill_with_a_spike_raises_a_flag_with_its_lines(con: duckdb.DuckDBPyConnection,
                                                                   tmp_path: Path) -> None:
    con.execute("INSERT INTO org_unit VALUES ('BU1', 'Digital', 'business_unit', NULL, NULL),"
                " ('CC-WEB', 'Web', 'cost_center', 'BU1', NULL)")
    history = ingest_file(con, _bill(tmp_path / "q1.csv", date(2026, 1, 1), 90), isolate=False, user="fiona")
    assert history.status == "loaded" and list_anomalies(con, FIONA).is_empty()   # a quiet quarter: nothing
    spike_day = date(2026, 4, 8)                                                   # a Wednesday
    april = ingest_file(con, _bill(tmp_path / "april.csv", date(2026, 4, 1), 10, {spike_day: 4}), isolate=False,
                        user="fiona")
    assert april.status == "loaded" and not april.warnings
    assert any(m.startswith("anomaly detection: ") and "new anomal" in m for m in april.messages), april.messages
    flagged = list_anomalies(con, FIONA)
    assert set(flagged["first_date"]) == {spike_day}
    assert {(k, s) for k, s in flagged.select("scope_kind", "scope_id").rows()} >= {
        ("cost_center", "CC-WEB"), ("service", "Amazon EC2"), ("resource", "vm-1")}
    assert "db-1" not in flagged["scope_id"].to_list() and "Amazon RDS" not in flagged["scope_id"].to_list()
    event = con.execute("SELECT actor, detail->>'trigger', detail->>'batch' FROM audit_event "
                        "WHERE action = 'anomaly.detect'").fetchall()
    assert event == [("fiona", "ingest", april.batch_id)]

    cc = _incident(con, "cost_center", "CC-WEB")
    lines = drivers(con, FIONA, cc["anomaly_id"])
    top = lines.row(0, named=True)
    assert (top["resource_id"], top["service"], top["sku"], top["unit"]) == (
        "vm-1", "Amazon EC2", "BoxUsage:m6i.xlarge", "Hours")
    assert top["quantity_after"] > 3 * top["quantity_before"]             # four times the hours …
    assert top["unit_price_after"] == pytest.approx(0.40, abs=1e-4)       # … at the same price
    assert top["unit_price_before"] == pytest.approx(0.40, abs=1e-4)
    assert top["excess"] > Decimal("2000") and top["excess"] == max(lines["excess"])
    # the resource's month, day by day, as the explorer and the anomaly page show it
    daily = explorer.resource_daily(con, FIONA, "2026-04", "vm-1").filter(pl.col("day") == spike_day)
    assert daily["quantity"][0] > 6000 and daily["unit_price"][0] == pytest.approx(0.40, abs=1e-4)

    again = ingest_file(con, tmp_path / "april.csv", isolate=False, user="fiona")     # the same file: a no-op
    assert again.status == "duplicate" and list_anomalies(con, FIONA).height == flagged.height


def test_a_failing_detection_never_fails_the_ingest(con: duckdb.DuckDBPyConnection, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: object, **__: object) -> None:
        raise duckdb.IOException("disk full")

    monkeypatch.setattr(jobs, "detect", broken)
    res = ingest_file(con, _bill(tmp_path / "q1.csv", date(2026, 1, 1), 14), isolate=False)
    assert res.status == "loaded" and res.rows_loaded == 28
    assert res.warnings[-1] == ("anomaly detection did not run for this batch (IOException: disk full); the file "
                                "is loaded")
    assert con.execute("SELECT count(*) FROM cost_line").fetchall()[0][0] == 28


def test_the_month_rule_and_the_demo_close(demo_con: duckdb.DuckDBPyConnection) -> None:
    # the demo's injected spike: Mobile App Backend's compute tripled for 2026-06, flagged for its month
    app = _incident(demo_con, "application", "APP018")
    assert (app["rule"], app["period"], app["cost_center_id"], app["scope_name"]) == (
        MONTHLY, "2026-06", "CC016", "Mobile App Backend")
    assert app["excess"] > Decimal("5000") and app["actual"] > app["expected"] * Decimal("1.3")
    triggers = {r[0] for r in demo_con.execute(
        "SELECT DISTINCT detail->>'trigger' FROM audit_event WHERE action = 'anomaly.detect'").fetchall()}
    assert triggers == {"close", "demo"}                   # the closed months by the close, the rest by the build
    events = len(_actions(demo_con))
    assert jobs.detect_after_close(demo_con, "2026-06", "fiona") is not None
    assert jobs.detect_periods(demo_con, ["2025-11", "2026-10"], "fiona") is not None
    assert len(_actions(demo_con)) == events               # idempotent: nothing new, nothing audited
    omar = User("omar", "Omar", "app_owner", frozenset({"CC015", "CC016"}))
    assert "APP018" in list_anomalies(demo_con, omar)["scope_id"].to_list()
    assert workflow.open_markers(demo_con, omar, "2026-06", "application") == {"Mobile App Backend": 1}


def test_the_month_rule_on_crafted_series(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("INSERT INTO org_unit VALUES ('CC-A', 'A', 'cost_center', NULL, NULL)")
    rows: list[tuple[object, ...]] = []
    month_amounts = {"2026-01": 1000, "2026-02": 1000, "2026-03": 1000, "2026-04": 1500, "2026-05": 1700}
    for period, per_day in month_amounts.items():
        first = date(int(period[:4]), int(period[5:]), 1)
        for i in range(28):
            day = datetime.combine(first + timedelta(days=i), datetime.min.time())
            rows.append((period, day, day + timedelta(days=1), Decimal(per_day), "CC-A"))
    con.executemany("INSERT INTO cost_line (billing_period, charge_period_start, charge_period_end, provider,"
                    " service_name, billed_cost, effective_cost, billing_currency, tag_cost_center, batch_id)"
                    " VALUES (?, ?, ?, 'aws', 'Compute', ?, ?, 'USD', ?, 'b')",
                    [(p, s, e, a, a, cc) for p, s, e, a, cc in rows])
    flags = scan_months(con, FIONA, "2026-01", "2026-05", levels=["cost_center"])
    # January–March have no three months of history; April is +50 %; May is +70 % over the median of Feb–Apr (1000)
    assert flags.select("date", "actual", "expected", "score").rows() == [
        (date(2026, 4, 1), Decimal("42000.00"), Decimal("28000.00"), 0.5),
        (date(2026, 5, 1), Decimal("47600.00"), Decimal("28000.00"), 0.7)]
    assert scan_months(con, DORA, "2026-01", "2026-05").is_empty()      # scoped like the daily scan
    with pytest.raises(InputError, match="YYYY-MM"):
        scan_months(con, FIONA, "2026-1", "2026-05")


@pytest.mark.parametrize(("months", "enough"), [
    ([], False),
    (["2026-07", "2026-08", "2026-09"], False),                  # three months: the bounds settle it
    (["2026-06", "2026-07", "2026-08", "2026-09"], True),
    (["2025-12", "2026-01", "2026-02", "2026-03"], True),         # across a year end
    (["2026-01", "2026-05", "2026-09"], False),                  # a wide span with gaps: counted, three
    (["2026-01", "2026-05", "2026-09", "2026-12"], False),       # the later month does not count for 2026-09
    (["2025", "2026-07", "2026-08", "2026-09"], True),           # an unreadable month: counted
])
def test_history_for_the_month_over_month_rule(con: duckdb.DuckDBPyConnection, months: list[str],
                                               enough: bool) -> None:
    for m in months:
        con.execute("INSERT INTO cost_line (billing_period, provider, billed_cost, effective_cost, billing_currency, "
                    "batch_id) VALUES (?, 'AWS', 1, 1, 'USD', 'b')", [m])
    assert jobs._enough_history(con, "2026-09") is enough
    exact = con.sql("SELECT count(DISTINCT billing_period) FROM cost_line WHERE billing_period <= '2026-09'").fetchall()
    assert enough is (exact[0][0] > 3)
