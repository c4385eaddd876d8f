"""Issue 14 acceptance: every engine function that returns costs to a user, called with a random app-owner scope,
returns only that scope (Hypothesis over non-empty random subsets of the demo's cost centres).

One module-scoped copy of the demo store (tests/conftest.py `demo_db_path`), seeded once with what the demo lacks
(disputes, an accepted dispute awaiting its run, avoided-cost actions, an FP&A plan, a service catalogue); each
example adds a new app owner (`app_user` + `user_scope`, as engine/access/user_admin.add_user writes them) and reads
the user back through engine/access/users.get_user, as every page does.

"In scope" means: every cost_center_id returned is one of the user's; application ids only of those cost centres;
names (business unit, cost centre, application) only of those; totals equal an independent SQL sum over the scope;
single-object reads outside the scope raise AccessDenied.

Covered, per generated scope:
- engine/insights/overview: kpis (total = independent SQL over the scope), spend_by_month (by business unit and cost
  centre), top_movers (by cost centre), untagged_share_by_month (= kpis' untagged %)
- engine/insights/explorer: breakdown (every level; cost-centre level sums to the kpis total), has_lines, monthly,
  explain (posted rows = independent SQL over the latest run), resource_daily (a resource in scope has rows, one out
  of scope has none)
- engine/insights/comparison: compare_period (by cost centre, every preset)
- engine/insights/anomalies/workflow: list_anomalies (exactly the scope's incidents), summary, get_anomaly (each of
  them), flags_of, history, drivers, open_markers; for a drawn incident of another cost centre: get_anomaly,
  flags_of, history, drivers, spend_split.split_spend and decompose.for_anomaly raise AccessDenied
- engine/insights/forecast: projection.forecast, backtest.backtest (through budget.view), budget.view,
  series.budgets, series.actuals, series.org
- engine/governance/budgets.status; engine/governance/provisioning.check (AccessDenied outside the scope)
- engine/fiscal/plan.plan_vs_actual (actual = independent SQL per cost centre)
- engine/access/statement_access.statement_for (+ engine/outputs/statements to_csv, to_xlsx, to_html: no other
  cost centre's or application's id in any of them; no organisation-wide reconciliation; AccessDenied outside)
- engine/allocation/explain: targets (no business unit, own cost centres and applications only), explain (a drawn
  own target; AccessDenied for a business unit and another cost centre); engine/allocation/impact.impact (refused)
- engine/improvement: accuracy.accuracy, accuracy.plan_vs_actual, avoidance.avoided, disputes.list_disputes / get
  (AccessDenied outside) / lines (AccessDenied outside) / awaiting_run, kpis.dispute_metrics, kpis.adoption
  (its dispute columns are scoped; the statements-opened, ticket and tag-coverage columns are organisation-wide
  percentages with no cost centre in them, on a page app owners cannot open)
- engine/costmodels/catalogue.tier_costs (exactly the scope's applications)
- engine/outputs/exports: to_csv_bytes of the explorer breakdown and posted rows (read back: the same rows)

Not called with a user, so not for app owners (their pages exclude the role; see tests/app/test_access_matrix.py):
overview.recovery / model_in_force, improvement reviews.overview / operating.cost_to_operate / benchmarks.measures /
kpis.statements_opened / anomaly_tickets / tag_coverage, insights/run_history, reconcile/*, scope/overview.

CLI (`test_cli_commands_that_print_costs_take_no_user`, `test_provision_cli_scopes_its_user`): the commands that
print or write costs (allocate, explain, journal, export-focus) take no --user and run unscoped as the job account;
`provision check` takes --user and applies that user's scope.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import io
import itertools
import re
import shutil
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import openpyxl
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import store
from engine.access.statement_access import statement_for
from engine.access.users import User, get_user
from engine.allocation import adjustments, impact
from engine.allocation import explain as allocation_explain
from engine.costmodels import catalogue
from engine.costmodels.presets import FULL_RECOVERY, PRESETS
from engine.errors import AccessDenied
from engine.fiscal import plan
from engine.governance import budgets, provisioning
from engine.improvement import accuracy, avoidance, disputes, kpis
from engine.insights import comparison, explorer, overview
from engine.insights.anomalies import decompose, spend_split, workflow
from engine.insights.explorer import NO_APPLICATION
from engine.insights.forecast import budget, projection, series
from engine.outputs import exports, statements

PERIOD = "2026-10"     # the demo's last month, posted
PRIOR = "2026-09"      # posted too: disputes raised on it are accepted into PERIOD's run
AS_OF = date(2026, 10, 20)
ADMIN = User("admin", "Admin", "admin", None)
FINOPS = User("fiona", "Fiona", "finops", None)
EXAMPLES = 25

_COUNTER = itertools.count()


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None) -> list[tuple]:
    return con.execute(sql, params or []).fetchall()


def _seed(con: duckdb.DuckDBPyConnection) -> None:
    """What the demo store lacks for these reads to return anything: disputes (one accepted into the next run),
    avoided-cost actions, a plan and a service catalogue, each through its engine function."""
    ccs = [r[0] for r in _rows(con, "SELECT unit_id FROM org_unit WHERE kind = 'cost_center' ORDER BY 1")]
    for i, cc in enumerate(ccs[::3]):
        found = disputes.lines(con, ADMIN, PRIOR, cc)
        if found.is_empty():
            continue
        r = found.row(0, named=True)
        d = disputes.raise_dispute(con, ADMIN, PRIOR, cc, disputes.LineRef(r["step"], r["step_name"],
                                                                           r["source_pool"], r["app_id"]),
                                   "1.00", f"checked {cc}")
        if i % 2 == 0:
            disputes.accept(con, FINOPS, d.dispute_id, "agreed", adjust_period=PERIOD)
    for cc in ccs[::4]:
        avoidance.record(con, ADMIN, avoidance.KINDS[0], f"rightsized {cc}", cc, "2026-08", "500.00", "300.00")
    body = "period,cost_center_id,amount\n" + "".join(f"{PERIOD},{cc},{1000 + n}.00\n" for n, cc in enumerate(ccs))
    plan.import_plan(con, "plan.csv", body.encode(), ADMIN)
    catalogue.save_catalogue(con, ADMIN, catalogue.Catalogue(entries=list(catalogue.STARTER)))


@pytest.fixture(scope="module")
def scoped_store(demo_db_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    path = tmp_path_factory.mktemp("scope_property") / "demo.duckdb"
    shutil.copy(demo_db_path, path)
    con = store.connect(path)
    _seed(con)
    yield con
    con.close()


def _owner(con: duckdb.DuckDBPyConnection, scope: frozenset[str]) -> User:
    name = f"owner{next(_COUNTER)}"
    con.execute("INSERT INTO app_user (username, display_name, role, password_hash) VALUES (?, ?, 'app_owner', 'x')",
                [name, name])
    for cc in sorted(scope):
        con.execute("INSERT INTO user_scope VALUES (?, ?)", [name, cc])
    user = get_user(con, name)
    assert user is not None and user.cost_centers == scope
    return user


class Org:
    """The demo organisation's ids and names, to tell a scope's rows from everyone else's."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        rows = _rows(con, "SELECT c.unit_id, c.name, c.parent_id, b.name FROM org_unit c"
                          " JOIN org_unit b ON b.unit_id = c.parent_id WHERE c.kind = 'cost_center' ORDER BY 1")
        self.cc_name = {r[0]: r[1] for r in rows}
        self.cc_bu = {r[0]: (r[2], r[3]) for r in rows}
        self.app_cc = dict(_rows(con, "SELECT app_id, cost_center_id FROM application"))
        self.app_name = dict(_rows(con, "SELECT app_id, name FROM application"))
        self.anomalies = dict(_rows(con, "SELECT anomaly_id, cost_center_id FROM anomaly WHERE rule IS NOT NULL"))

    def apps(self, scope: frozenset[str]) -> set[str]:
        return {a for a, cc in self.app_cc.items() if cc in scope}

    def names(self, scope: frozenset[str]) -> set[str]:
        return {self.cc_name[c] for c in scope}

    def bu_names(self, scope: frozenset[str]) -> set[str]:
        return {self.cc_bu[c][1] for c in scope}

    def bu_ids(self, scope: frozenset[str]) -> set[str]:
        return {self.cc_bu[c][0] for c in scope}

    def foreign_ids(self, scope: frozenset[str]) -> set[str]:
        """Ids of every cost centre and application outside the scope (none may appear in its files)."""
        return {c for c in self.cc_name if c not in scope} | {a for a, c in self.app_cc.items() if c not in scope}


@pytest.fixture(scope="module")
def org(scoped_store: duckdb.DuckDBPyConnection) -> Org:
    return Org(scoped_store)


def _ids(df: pl.DataFrame, col: str) -> set[str]:
    return {v for v in df[col].to_list() if v is not None}


def _tokens(text: str) -> set[str]:
    return set(re.findall(r"[A-Z][A-Z0-9]*-?[A-Z0-9]+", text))


_CC = "coalesce(t.unit_id, tapp.cost_center_id, ao.cost_center_id)"   # tag, tagged application, account owner


def _scoped_total(con: duckdb.DuckDBPyConnection, scope: frozenset[str]) -> Decimal:
    """The month's cost of the scope by the dashboards' attribution (cost-centre tag, else the tagged application's
    cost centre, else the account owner), written out here."""
    return Decimal(_rows(con, f"""
        SELECT coalesce(sum(l.effective_cost), 0) FROM cost_line l
        LEFT JOIN org_unit t ON t.unit_id = l.tag_cost_center AND t.kind = 'cost_center'
        LEFT JOIN application tapp ON tapp.app_id = l.tag_application
        LEFT JOIN account_owner ao ON ao.provider = l.provider AND ao.sub_account_id = l.sub_account_id
        WHERE l.billing_period = ? AND {_CC} IN (SELECT unnest(?::VARCHAR[]))""",
                         [PERIOD, sorted(scope)])[0][0])




def _csv_rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


scopes = st.lists(st.sampled_from([f"CC{n:03d}" for n in range(1, 41)]), min_size=1, max_size=10, unique=True)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scope_list=scopes, data=st.data())
def test_every_cost_read_returns_only_the_scope(scoped_store: duckdb.DuckDBPyConnection, org: Org,
                                                scope_list: list[str], data: st.DataObject) -> None:
    con = scoped_store
    scope = frozenset(scope_list)
    user = _owner(con, scope)
    apps, names, bu_names = org.apps(scope), org.names(scope), org.bu_names(scope)
    outside = min(set(org.cc_name) - scope)

    # --- overview -------------------------------------------------------------------------------------------------
    k = overview.kpis(con, user, PERIOD)
    expected_total = _scoped_total(con, scope)
    assert k.total == expected_total
    assert k.unattributed == 0                       # an owner never sees unattributed lines
    by_cc = overview.spend_by_month(con, user, by="cost_center")
    assert set(by_cc["grp"].to_list()) <= names
    assert abs(Decimal(str(by_cc.filter(pl.col("period") == PERIOD)["cost"].sum())) - expected_total) < Decimal("0.01")
    assert set(overview.spend_by_month(con, user)["grp"].to_list()) <= bu_names
    assert set(overview.top_movers(con, user, PERIOD, by="cost_center", limit=50)["grp"].to_list()) <= names
    share = overview.untagged_share_by_month(con, user).filter(pl.col("period") == PERIOD)
    if k.total:
        assert (share["untagged_pct"][0] or 0.0) == pytest.approx(k.untagged_pct, abs=1e-6)

    # --- explorer (and its downloads) -----------------------------------------------------------------------------
    # the attribution follows the direct steps' fallback (tag, tagged application, account owner) and shows an
    # application only beside its own cost centre: no application of another scope appears
    allowed = {"business_unit": bu_names, "cost_center": names,
               "application": {org.app_name[a] for a in apps} | {NO_APPLICATION}}
    for level, ok in allowed.items():
        rows = explorer.breakdown(con, user, PERIOD, level)
        assert set(rows["name"].to_list()) <= ok, level
    cc_rows = explorer.breakdown(con, user, PERIOD, "cost_center")
    # each row is rounded to the cent on its own: the sum is within half a cent per row of the exact total
    assert abs(Decimal(cc_rows["cost"].sum()) - expected_total) <= Decimal("0.005") * max(cc_rows.height, 1)
    assert [r["name"] for r in _csv_rows(exports.to_csv_bytes(cc_rows))] == cc_rows["name"].to_list()
    assert explorer.has_lines(con, user, PERIOD) == (k.total != 0 or cc_rows.height > 0)
    assert set(explorer.monthly(con, user, by="cost_center")["grp"].to_list()) <= names
    posted = explorer.explain(con, user, PERIOD, limit=100_000)
    assert _ids(posted, "cost_center_id") <= scope
    assert _ids(posted, "app_id") <= apps
    independent = _rows(con, """
        SELECT coalesce(sum(posted_amount), 0) FROM allocation_result
        WHERE cost_center_id IN (SELECT unnest(?::VARCHAR[]))
          AND run_key = (SELECT run_key FROM allocation_run WHERE period = ? AND status = 'posted'
                         ORDER BY finished_at DESC NULLS LAST, started_at DESC LIMIT 1)""", [sorted(scope), PERIOD])
    assert Decimal(posted["posted_amount"].sum()) == Decimal(independent[0][0])
    assert {r["cost_center_id"] for r in _csv_rows(exports.to_csv_bytes(posted))} <= scope
    resources = explorer.breakdown(con, user, PERIOD, "resource_id")
    mine = [r for r in resources["name"].to_list() if r != "(none)"]
    if mine:
        assert not explorer.resource_daily(con, user, PERIOD, mine[0]).is_empty()
    foreign = _rows(con, f"""
        SELECT l.resource_id FROM cost_line l
        LEFT JOIN org_unit t ON t.unit_id = l.tag_cost_center AND t.kind = 'cost_center'
        LEFT JOIN application tapp ON tapp.app_id = l.tag_application
        LEFT JOIN account_owner ao ON ao.provider = l.provider AND ao.sub_account_id = l.sub_account_id
        WHERE l.billing_period = ? AND l.resource_id IS NOT NULL GROUP BY 1
        HAVING bool_and(coalesce({_CC}, '') NOT IN (SELECT unnest(?::VARCHAR[]))) LIMIT 1""",
                    [PERIOD, sorted(scope)])
    assert explorer.resource_daily(con, user, PERIOD, foreign[0][0]).is_empty()

    # --- scenario comparison --------------------------------------------------------------------------------------
    compared = comparison.compare_period(con, user, PERIOD, list(PRESETS), PRESETS[0].name, by="cost_center")
    assert _ids(compared, "cost_center_id") <= scope

    # --- anomalies ------------------------------------------------------------------------------------------------
    listed = workflow.list_anomalies(con, user)
    assert set(listed["cost_center_id"].to_list()) <= scope
    assert set(listed["anomaly_id"].to_list()) == {a for a, cc in org.anomalies.items() if cc in scope}
    summ = workflow.summary(con, user, limit=100)
    assert summ.active + summ.over_budget == workflow.list_anomalies(con, user, "active").height
    assert set(summ.top["cost_center_id"].to_list()) <= scope
    for anomaly_id in listed["anomaly_id"].to_list():
        assert workflow.get_anomaly(con, user, anomaly_id).cost_center_id == org.anomalies[anomaly_id]
    theirs = data.draw(st.sampled_from(sorted(a for a, cc in org.anomalies.items() if cc not in scope)),
                       label="another cost centre's incident")
    for read in (workflow.get_anomaly, workflow.flags_of, workflow.history, workflow.drivers,
                 spend_split.split_spend, decompose.for_anomaly):
        with pytest.raises(AccessDenied):
            read(con, user, theirs)
    if listed.height:
        own = listed["anomaly_id"][0]
        assert not workflow.flags_of(con, user, own).is_empty()
        workflow.history(con, user, own)
        workflow.drivers(con, user, own)
    assert set(workflow.open_markers(con, user, PERIOD, "cost_center")) <= names

    # --- forecasts and budgets ------------------------------------------------------------------------------------
    f = projection.forecast(con, user, PERIOD, AS_OF)
    assert _ids(f, "cost_center_id") <= scope
    view = budget.view(con, user, PERIOD, AS_OF)   # runs backtest.backtest for the user: checked through it
    bt = view.accuracy
    assert _ids(bt.by_cost_center, "cost_center_id") <= scope and _ids(bt.rows, "scope_id") <= scope
    assert _ids(bt.by_business_unit, "business_unit") <= bu_names | {projection.TOTAL}
    assert _ids(view.by_cost_center, "cost_center_id") <= scope
    assert _ids(view.by_business_unit, "business_unit") <= bu_names | {projection.TOTAL}
    assert _ids(series.budgets(con, user, [PERIOD]), "cost_center_id") <= scope
    assert _ids(series.actuals(con, user, [PERIOD]), "cost_center_id") <= scope
    assert _ids(series.org(con, user), "cost_center_id") == set(scope)
    status = budgets.standing(con, user, PERIOD)
    assert set(status["cost_center_id"].to_list()) == {
        r[0] for r in _rows(con, "SELECT cost_center_id FROM budget WHERE period = ?", [PERIOD])} & scope
    with pytest.raises(AccessDenied):
        provisioning.check(con, user, provisioning.Request(outside, "vcpu", Decimal(1), Decimal(10), "needed"))
    pva = plan.plan_vs_actual(con, user, PERIOD)
    assert set(pva["cost_center_id"].to_list()) == set(scope)   # the seeded plan names every cost centre
    actual = dict(_rows(con, """
        SELECT cost_center_id, sum(posted_amount) FROM allocation_result
        WHERE run_key = (SELECT run_key FROM allocation_run WHERE period = ? AND status = 'posted'
                         ORDER BY finished_at DESC NULLS LAST, run_key LIMIT 1)
          AND cost_center_id IN (SELECT unnest(?::VARCHAR[])) GROUP BY 1""", [PERIOD, sorted(scope)]))
    assert {r["cost_center_id"]: r["actual"] for r in pva.iter_rows(named=True)} == {
        cc: Decimal(actual.get(cc, 0)).quantize(Decimal("0.01")) for cc in scope}

    # --- statements and their three downloads ---------------------------------------------------------------------
    cc = data.draw(st.sampled_from(sorted(scope)), label="statement cost centre")
    stmt = statement_for(con, user, PERIOD, cc, FULL_RECOVERY)
    assert stmt.cost_center_id == cc and stmt.reconciliation is None
    assert _ids(stmt.lines, "app_id") <= apps
    assert stmt.flags is not None and {org.anomalies[a] for a in stmt.flags["anomaly_id"].to_list()} <= {cc}
    csv_rows = _csv_rows(statements.to_csv(stmt))
    assert {r["cost_centre"] for r in csv_rows} == {cc} and {r["app_id"] for r in csv_rows} - {""} <= apps
    wb = openpyxl.load_workbook(io.BytesIO(statements.to_xlsx(stmt)))
    xlsx_text = " ".join(str(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row
                         if c.value is not None)
    foreign_ids = org.foreign_ids(scope)
    for text in (statements.to_csv(stmt).decode(), xlsx_text, statements.to_html(stmt)):
        assert not _tokens(text) & foreign_ids
    with pytest.raises(AccessDenied):
        statement_for(con, user, PERIOD, outside, FULL_RECOVERY)

    # --- explain a charge -----------------------------------------------------------------------------------------
    targets = allocation_explain.targets(con, user, PERIOD)
    assert {t for kind, t, _ in targets if kind == "cost_center"} == set(scope)
    assert {t for kind, t, _ in targets if kind == "application"} <= apps
    assert not [t for t in targets if t[0] == "business_unit"]
    kind, target, _ = data.draw(st.sampled_from(targets), label="explained target")
    e = allocation_explain.explain(con, user, PERIOD, target)
    assert e.target_id == target
    assert {c.target_id for c in e.cells if c.target_kind == "cost_center"} <= scope
    assert {c.target_id for c in e.cells if c.target_kind == "application"} <= apps
    for refused in (org.cc_bu[cc][0], outside):
        with pytest.raises(AccessDenied):
            allocation_explain.explain(con, user, PERIOD, refused)
    with pytest.raises(AccessDenied):
        impact.impact(con, "demo", 1, user)

    # --- continuous improvement -----------------------------------------------------------------------------------
    acc = accuracy.accuracy(con, user, PERIOD)
    assert _ids(acc.by_cost_center, "cost_center_id") <= scope
    assert _ids(accuracy.plan_vs_actual(con, user), "cost_center_id") <= scope
    assert _ids(avoidance.avoided(con, user, PERIOD), "cost_center_id") <= scope
    seen = disputes.list_disputes(con, user)
    assert {d.cost_center_id for d in seen} == {
        r[0] for r in _rows(con, "SELECT cost_center_id FROM dispute WHERE period IS NOT NULL")} & scope
    assert {d.cost_center_id for d in disputes.awaiting_run(con, user)} <= scope
    others = _rows(con, "SELECT dispute_id FROM dispute WHERE cost_center_id NOT IN (SELECT unnest(?::VARCHAR[]))"
                        " LIMIT 1", [sorted(scope)])
    if others:
        with pytest.raises(AccessDenied):
            disputes.get(con, user, others[0][0])
    with pytest.raises(AccessDenied):
        disputes.lines(con, user, PERIOD, outside)
    metrics = kpis.dispute_metrics(con, user)
    assert _ids(metrics, "business_unit_id") <= org.bu_ids(scope)
    by_period = metrics.group_by("period").agg(pl.col("charged").sum())
    charged = dict(_rows(con, """
        SELECT a.period, sum(r.posted_amount) FROM allocation_result r JOIN allocation_run a USING (run_key)
        WHERE a.status = 'posted' AND NOT starts_with(r.source_pool, ?) AND r.cost_center_id IN
              (SELECT unnest(?::VARCHAR[])) AND r.run_key = (SELECT run_key FROM allocation_run b WHERE b.period =
              a.period AND b.status = 'posted' ORDER BY finished_at DESC, run_key LIMIT 1) GROUP BY 1""",
                          [adjustments.POOL_PREFIX, sorted(scope)]))
    assert {r["period"]: r["charged"] for r in by_period.iter_rows(named=True)} == {
        p: Decimal(v).quantize(Decimal("0.01")) for p, v in charged.items()}
    adoption = kpis.adoption(con, user)
    assert adoption.filter(pl.col("disputes").is_not_null())["disputes"].sum() == len(seen)

    # --- service catalogue (the app owner's view) -----------------------------------------------------------------
    tiers = catalogue.tier_costs(con, user, catalogue.load_catalogue(con))
    assert set(tiers["cost_center_id"].to_list()) <= scope
    assert set(tiers["app_id"].to_list()) == apps


def test_explorer_application_ids_belong_to_the_scope(scoped_store: duckdb.DuckDBPyConnection, org: Org) -> None:
    user = _owner(scoped_store, frozenset({"CC001"}))
    shown = set(explorer.breakdown(scoped_store, user, PERIOD, "application")["name"].to_list())
    assert shown <= {org.app_name[a] for a in org.apps(frozenset({"CC001"}))} | {NO_APPLICATION}


def _parser(command: str) -> argparse.ArgumentParser:
    from engine.__main__ import COMMANDS

    parser = argparse.ArgumentParser()
    importlib.import_module(COMMANDS[command][0]).add_arguments(parser)
    return parser


def _options(parser: argparse.ArgumentParser) -> set[str]:
    found: set[str] = set()
    for action in parser._actions:
        found |= set(action.option_strings)
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found |= _options(sub)
    return found


def test_cli_commands_that_print_costs_take_no_user() -> None:
    """allocate, explain, journal and export-focus print or write costs for the whole organisation: they run as
    the job account (no --user, no scope); explain's operator is unscoped on purpose. Only provision takes a user
    whose scope applies (ingest's and backup's --user only name who is recorded in the audit trail)."""
    from engine.cli import explain as explain_cli

    for command in ("allocate", "explain", "journal", "export-focus"):
        assert "--user" not in _options(_parser(command)), command
    assert explain_cli.OPERATOR.cost_centers is None
    assert "--user" in _options(_parser("provision"))


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scope_list=scopes)
def test_provision_cli_scopes_its_user(demo_db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       scope_list: list[str]) -> None:
    """`python -m engine provision check --user OWNER` answers for the owner's cost centres and refuses others."""
    from engine.__main__ import main
    from engine.cli import provision as provision_cli

    db = tmp_path / "cli.duckdb"
    if not db.exists():
        shutil.copy(demo_db_path, db)
    scope = frozenset(scope_list)
    con = store.connect(db)
    try:
        user = _owner(con, scope)
    finally:
        con.close()
    outside = min({f"CC{n:03d}" for n in range(1, 41)} - scope)
    base = ["provision", "check", "--db", str(db), "--user", user.username, "--class", "vcpu", "--quantity", "1",
            "--monthly-cost", "10", "--justification", "a test", "--json"]
    capsys.readouterr()
    mine = min(scope)
    assert main([*base, "--cost-center", mine]) in (0, provision_cli.NEEDS_APPROVAL)
    assert '"period"' in capsys.readouterr().out
    assert main([*base, "--cost-center", outside]) == 1
    assert f"cannot request resources for cost centre {outside}" in capsys.readouterr().err
