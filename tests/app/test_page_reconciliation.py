"""The reconciliation page surfaces the demo organisation's planted defects, with counts checked against SQL."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from data import demo_discovery
from engine import store
from engine.ingest.contract.keys import resource_key
from tests.app.conftest import page_as
from tests.unit.inventory_helpers import FIXTURES, load
from ui.formats import money

pytestmark = pytest.mark.usefixtures("app_env")

PERIOD = "2026-10"          # the last demo month
AS_OF = "2026-10-31"        # the page's default "as of": end of the last billing period
ENVIRONMENTS = ("prod", "production", "staging", "test", "dev", "sandbox")
INVENTORIES = ["jamf_computers_inventory.json", "sccm_hardware_inventory.csv", "aws_config_snapshot.json",
               "servicenow_alm_hardware.csv", "servicenow_cmdb_ci.json"]


def _sql(db: Path, q: str, params: list[object] | None = None) -> list[tuple[Any, ...]]:
    con = store.connect(db)
    try:
        return con.execute(q, params or []).fetchall()
    finally:
        con.close()


def _metric(at: AppTest, label: str) -> str:
    for m in at.metric:
        if m.label == label:
            return str(m.value)
    raise AssertionError(f"no metric {label!r}: {[m.label for m in at.metric]}")


def _frame(at: AppTest, *columns: str) -> pd.DataFrame:
    """The first dataframe on screen holding all these columns."""
    for df in at.dataframe:
        if set(columns) <= set(df.value.columns):
            return df.value
    raise AssertionError(f"no dataframe with {columns}: {[list(d.value.columns) for d in at.dataframe]}")


def _pct(x: float) -> str:
    return f"{x:.1f}%"


@pytest.fixture(scope="module")
def page(app_env: Path) -> AppTest:  # noqa: ARG001 - the env points the page at the demo copy
    at = page_as("reconciliation", "fiona").run()
    assert not at.exception, at.exception
    return at


@pytest.fixture(scope="module")
def app_env(app_db: Path) -> Iterator[Path]:  # module-wide, so one page run serves several tests
    mp = pytest.MonkeyPatch()
    mp.setenv("APPORTION_DB_PATH", str(app_db))
    yield app_db
    mp.undo()


@pytest.mark.parametrize("username", ["fiona", "admin", "audrey"])
def test_allowed_roles_see_every_tab(username: str) -> None:
    at = page_as("reconciliation", username).run()
    assert not at.exception
    assert at.title[0].value == "Reconciliation"
    assert [t.label for t in at.tabs] == ["Assets", "Cloud coverage", "Licences", "Data quality", "Tag hygiene"]
    assert not any("cannot open this page" in e.value for e in at.error)


@pytest.mark.parametrize("username", ["eve", "omar"])
def test_executive_and_app_owner_are_refused(username: str) -> None:
    at = page_as("reconciliation", username).run()
    assert not at.exception
    assert any("cannot open this page" in e.value for e in at.error)
    assert len(at.metric) == 0 and len(at.dataframe) == 0 and len(at.tabs) == 0


def test_register_checks_find_the_duplicate_serial_and_retired_laptops(page: AppTest, app_db: Path) -> None:
    dupes = sorted(r[0] for r in _sql(app_db, """
        SELECT a.asset_id FROM asset a WHERE EXISTS (
            SELECT 1 FROM asset b WHERE b.source = a.source AND b.asset_id <> a.asset_id
              AND upper(replace(b.serial, ' ', '')) = upper(replace(a.serial, ' ', ''))
              AND (coalesce(b.asset_tag, '') <> coalesce(a.asset_tag, '')
                   OR coalesce(b.model, '') <> coalesce(a.model, '')))"""))
    retired = sorted(r[0] for r in _sql(app_db, """
        SELECT asset_id FROM asset WHERE lifecycle_status IN ('retired', 'disposed')
          AND nullif(trim(owner), '') IS NOT NULL"""))
    assert len(dupes) == 2 and len(retired) == 12     # what docs/demo-data.md plants
    assert _metric(page, "Duplicate serials") == "2"
    assert _metric(page, "Retired, still assigned") == "12"
    at = page_as("reconciliation", "fiona").run()
    at.selectbox(key="recon_asset_list").set_value("duplicates").run()
    assert sorted(_frame(at, "serial_key", "asset_id")["asset_id"]) == dupes
    at.selectbox(key="recon_asset_list").set_value("retired_assigned").run()
    assert not at.exception
    shown = _frame(at, "asset_id", "lifecycle_status", "owner")
    assert sorted(shown["asset_id"]) == retired
    assert set(shown["lifecycle_status"]) == {"retired"}


def test_licence_position_shows_the_tableau_shortfall_and_idle_cost(page: AppTest, app_db: Path) -> None:
    rows = _sql(app_db, """
        WITH a AS (SELECT product, count(DISTINCT username) AS assigned,
                          count(DISTINCT username) FILTER (WHERE last_active >= DATE '2026-10-31' - 90) AS active
                   FROM licence_assignment GROUP BY 1)
        SELECT e.product, e.entitlements, coalesce(a.assigned, 0),
               round(greatest(e.entitlements - coalesce(a.active, 0), 0) * e.unit_cost_month, 2)
        FROM licence_entitlement e LEFT JOIN a USING (product) ORDER BY 1""")
    short = {p: asg - ent for p, ent, asg, _ in rows if asg > ent}
    assert short == {"Tableau Creator": 8}
    assert _metric(page, "Seats assigned beyond entitlement") == "8"
    assert _metric(page, "Idle licence cost / month") == money(sum(r[3] for r in rows))
    assert any("Tableau Creator" in w.value and "68 seats assigned for 60" in w.value for w in page.warning)
    table = _frame(page, "product", "entitled", "assigned", "shortfall").set_index("product")
    assert (table.loc["Tableau Creator", "entitled"], table.loc["Tableau Creator", "assigned"]) == (60, 68)
    assert len(table) == len(rows)


def test_data_quality_finds_missing_locations_and_servers_without_application(page: AppTest, app_db: Path) -> None:
    no_location = sorted(r[0] for r in _sql(app_db, """
        SELECT asset_id FROM asset WHERE class IN ('laptop', 'desktop', 'server', 'storage', 'network')
          AND source = 'servicenow'     -- the rules judge the register (the record source), not discovery
          AND coalesce(lifecycle_status, 'in_use') IN ('in_use', 'in_stock') AND nullif(trim(location), '') IS NULL"""))
    assert no_location == [f"AST-{n:06d}" for n in range(101, 116)]
    no_app = _sql(app_db, """SELECT asset_id, environment FROM asset WHERE class = 'server' AND source = 'servicenow'
                             AND coalesce(lifecycle_status, 'in_use') = 'in_use' AND app_id IS NULL ORDER BY 1""")
    assert len(no_app) == 3 and {e for _, e in no_app} == {"prod"}
    summary = _frame(page, "rule", "severity", "assets")
    counts = {(r.rule, r.severity): r.assets for r in summary.itertuples()}
    assert counts[("location known", "warning")] == 15
    assert counts[("server serves an application", "warning")] == 3

    at = page_as("reconciliation", "audrey").run()
    at.selectbox(key="recon_dq_rule").set_value("location known").run()
    assert sorted(_frame(at, "asset_id", "rule", "message")["asset_id"]) == no_location
    at.selectbox(key="recon_dq_rule").set_value("server serves an application").run()
    assert sorted(_frame(at, "asset_id", "rule", "message")["asset_id"]) == [a for a, _ in no_app]


def test_dq_rules_can_be_edited_for_the_session() -> None:
    at = page_as("reconciliation", "fiona").run()
    at.text_area(key="recon_dq_rules").input('{"attribute_rules": [], "depreciation": null}').run()
    assert not at.exception
    assert any("Every asset meets" in s.value for s in at.success)
    at.text_area(key="recon_dq_rules").input('{"attribute_rules": [{"name": "x", "kind": "allowed"}]}').run()
    assert any("not valid" in e.value for e in at.error)
    assert _metric(at, "Errors") == "2"                # defaults used instead of the broken rules


def test_tag_hygiene_matches_independent_sql(page: AppTest, app_db: Path) -> None:
    envs = ", ".join(f"'{e}'" for e in ENVIRONMENTS)
    shares = dict(_sql(app_db, f"""
        WITH l AS (
            SELECT effective_cost, CASE
                WHEN nullif(trim(tag_cost_center), '') IS NULL THEN 'untagged'
                WHEN lower(trim(tag_cost_center)) NOT IN (SELECT lower(unit_id) FROM org_unit
                                                          WHERE kind = 'cost_center') THEN 'mis-tagged'
                WHEN nullif(trim(tag_application), '') IS NULL OR nullif(trim(tag_environment), '') IS NULL
                     OR lower(trim(tag_environment)) NOT IN ({envs}) THEN 'incomplete'
                ELSE 'compliant' END AS s
            FROM cost_line WHERE billing_period = ?)
        SELECT s, 100 * sum(effective_cost) / (SELECT sum(effective_cost) FROM l) FROM l GROUP BY s""", [PERIOD]))
    assert 7.0 < shares["untagged"] < 10.0 and 1.0 < shares["mis-tagged"] < 3.0   # ~8 % and ~2 % planted
    assert _metric(page, "Tag coverage") == _pct(shares["compliant"])
    assert _metric(page, "Untagged") == _pct(shares["untagged"])
    assert _metric(page, "Mis-tagged") == _pct(shares["mis-tagged"])
    assert _metric(page, "Incomplete") == _pct(shares["incomplete"])

    grid = _frame(page, "period", "provider", "total", "compliant_pct")
    per_provider = dict(_sql(app_db, "SELECT provider, sum(effective_cost)::DOUBLE FROM cost_line "
                                     "WHERE billing_period = ? GROUP BY 1", [PERIOD]))
    month = grid[grid["period"] == PERIOD].set_index("provider")["total"]
    assert {p: round(v, 2) for p, v in month.items()} == {p: round(v, 2) for p, v in per_provider.items()}
    assert grid["period"].nunique() == 12

    top = _frame(page, "sub_account_id", "service_name", "status", "effective_cost")
    worst = _sql(app_db, """
        SELECT provider, sub_account_id, service_name,
               CASE WHEN nullif(trim(tag_cost_center), '') IS NULL THEN 'untagged' ELSE 'mis-tagged' END AS s,
               sum(effective_cost)::DOUBLE AS c
        FROM cost_line WHERE billing_period = ? AND (nullif(trim(tag_cost_center), '') IS NULL
             OR lower(trim(tag_cost_center)) NOT IN (SELECT lower(unit_id) FROM org_unit WHERE kind = 'cost_center'))
        GROUP BY ALL ORDER BY c DESC LIMIT 1""", [PERIOD])[0]
    first = top.iloc[0]
    assert (first["provider"], first["sub_account_id"], first["service_name"], first["status"]) == worst[:4]
    assert round(first["effective_cost"], 2) == round(worst[4], 2)
    assert top["effective_cost"].is_monotonic_decreasing


def test_tag_offenders_by_account_name_the_typed_values(app_db: Path) -> None:
    at = page_as("reconciliation", "fiona").run()
    at.radio(key="recon_tag_by").set_value("account").run()
    assert not at.exception
    top = _frame(at, "sub_account_id", "status", "tag_values")
    assert "service_name" not in top.columns
    typed = {v for vals in top.loc[top["status"] == "mis-tagged", "tag_values"] for v in vals.split(", ")}
    planted = {r[0] for r in _sql(app_db, """
        SELECT DISTINCT tag_cost_center FROM cost_line WHERE billing_period = ? AND tag_cost_center NOT IN
          (SELECT unit_id FROM org_unit WHERE kind = 'cost_center')""", [PERIOD])}
    assert typed and typed <= planted <= {"cc-12", "marketing", "CC-7", "finance", "tbd", "cc0015", "retail"}


# --- the demo's own discovery (SCCM, Jamf, AWS Config) against its ServiceNow register ----------------------------

MATCH_SQL = """
WITH disc AS (      -- discovered, a device reported by two agents kept once (the first source in name order)
    SELECT * FROM (SELECT *, upper(replace(serial, ' ', '')) AS sk, upper(replace(asset_tag, ' ', '')) AS tk,
                          row_number() OVER (PARTITION BY upper(replace(serial, ' ', ''))
                                             ORDER BY source, asset_id) AS k
                   FROM asset WHERE source IN ({disc})) WHERE k = 1
), rec AS (
    SELECT *, upper(replace(serial, ' ', '')) AS sk, upper(replace(asset_tag, ' ', '')) AS tk
    FROM asset WHERE source = 'servicenow'
), pair AS (        -- each record takes the device with its serial, else the one with its asset tag
    SELECT r.asset_id AS rid, coalesce(s.asset_id, t.asset_id) AS did, s.asset_id IS NULL AS on_tag
    FROM rec r LEFT JOIN disc s ON s.sk = r.sk LEFT JOIN disc t ON t.tk = r.tk AND s.asset_id IS NULL
), who AS (
    SELECT p.rid, p.did, p.on_tag, r.lifecycle_status AS r_status, d.lifecycle_status AS d_status,
           split_part(regexp_replace(lower(trim(r.owner)), '^.*\\\\', ''), '@', 1) AS r_owner,
           split_part(regexp_replace(lower(trim(d.owner)), '^.*\\\\', ''), '@', 1) AS d_owner,
           upper(trim(r.cost_center_id)) AS r_cc, upper(trim(d.cost_center_id)) AS d_cc
    FROM pair p JOIN rec r ON r.asset_id = p.rid LEFT JOIN disc d ON d.asset_id = p.did
)
SELECT
    count(*) FILTER (WHERE did IS NOT NULL) AS matched,
    count(*) FILTER (WHERE did IS NULL AND coalesce(r_status, 'in_use') NOT IN ('retired', 'disposed', 'in_stock')),
    (SELECT count(*) FROM disc WHERE asset_id NOT IN (SELECT did FROM pair WHERE did IS NOT NULL)
        AND coalesce(lifecycle_status, 'in_use') NOT IN ('retired', 'disposed')),
    count(*) FILTER (WHERE r_owner <> '' AND d_owner <> '' AND r_owner <> d_owner),
    count(*) FILTER (WHERE r_cc <> '' AND d_cc <> '' AND r_cc <> d_cc),
    count(*) FILTER (WHERE r_status IN ('retired', 'disposed') AND did IS NOT NULL
                     AND coalesce(d_status, 'in_use') NOT IN ('retired', 'disposed')),
    list(rid ORDER BY rid) FILTER (WHERE did IS NULL AND coalesce(r_status, 'in_use') NOT IN
                                   ('retired', 'disposed', 'in_stock')),
    list(rid ORDER BY rid) FILTER (WHERE r_owner <> '' AND d_owner <> '' AND r_owner <> d_owner),
    list(rid ORDER BY rid) FILTER (WHERE r_cc <> '' AND d_cc <> '' AND r_cc <> d_cc),
    list(rid ORDER BY rid) FILTER (WHERE r_status IN ('retired', 'disposed') AND did IS NOT NULL),
    list(rid ORDER BY rid) FILTER (WHERE on_tag AND did IS NOT NULL)
FROM who"""
LABELS = ("Matched", "Ghosts", "Orphans", "Owner mismatches", "Cost-centre mismatches",
          "Retired in records, still discovered")


def _matching(db: Path, discovery: tuple[str, ...]) -> tuple[Any, ...]:
    return _sql(db, MATCH_SQL.format(disc=", ".join(f"'{d}'" for d in discovery)))[0]


@pytest.fixture(scope="module")
def planted(app_db: Path) -> demo_discovery.Planted:
    """What the generator planted, rebuilt from the store it generated (data/demo_discovery.build)."""
    con = store.connect(app_db)
    try:
        return demo_discovery.build(con, 42).planted
    finally:
        con.close()


def test_demo_discovery_against_the_register(page: AppTest, app_db: Path, planted: demo_discovery.Planted) -> None:
    assert page.multiselect(key="recon_disc").value == ["aws_config", "jamf", "sccm"]
    assert page.multiselect(key="recon_recs").value == ["servicenow"]
    assert not any("Matching needs a discovery source" in i.value for i in page.info)
    got = _matching(app_db, ("aws_config", "jamf", "sccm"))
    assert {k: _metric(page, k) for k in LABELS} == {k: f"{n:,}" for k, n in zip(LABELS, got[:6], strict=True)}
    ghosts, owners, ccs, retired, on_tag = got[6:]
    # what the generator planted is what the page finds
    infra = {r[0] for r in _sql(app_db, "SELECT asset_id FROM asset WHERE source = 'servicenow' AND "
                                "class IN ('storage', 'network') AND lifecycle_status = 'in_use'")}
    assert set(ghosts) == set(planted.ghosts) | infra          # lost devices + gear no endpoint agent sees
    assert owners == planted.owner and ccs == planted.cost_center and retired == planted.retired_reporting
    assert on_tag == planted.serial                             # serial keyed differently: matched on the tag
    twice = len(planted.both_agents)
    assert any(f"{twice:,} devices were seen by two discovery agents" in c.value for c in page.caption)
    # orphans: shadow IT, the device hidden by the register's duplicate serial, and every active Config resource
    # (the demo's CMDB holds no cloud CIs)
    cloud = _sql(app_db, "SELECT count(*) FROM asset WHERE source = 'aws_config' "
                         "AND lifecycle_status NOT IN ('retired', 'disposed')")[0][0]
    assert got[2] == len(planted.shadow) + len(planted.duplicate_serial_device) + cloud


def test_device_orphans_are_the_shadow_it_the_generator_left_out(app_db: Path,
                                                                 planted: demo_discovery.Planted) -> None:
    at = page_as("reconciliation", "fiona").run()
    at.multiselect(key="recon_disc").set_value(["jamf", "sccm"]).run()
    assert not at.exception
    got = _matching(app_db, ("jamf", "sccm"))
    assert _metric(at, "Orphans") == f"{got[2]:,}" == f"{len(planted.shadow) + 1:,}"
    at.selectbox(key="recon_asset_list").set_value("orphans").run()
    orphans = _frame(at, "asset_id", "serial", "source")
    assert sorted(orphans["serial"]) == sorted(planted.shadow + planted.duplicate_serial_device)
    assert set(orphans["source"]) == {"jamf", "sccm"}
    at.selectbox(key="recon_asset_list").set_value("status").run()
    status = _frame(at, "record_asset_id", "field", "record_value", "discovered_value")
    assert sorted(status["record_asset_id"]) == planted.retired_reporting
    assert set(status["record_value"]) == {"retired"} and set(status["discovered_value"]) == {"in_use"}


def test_cloud_coverage_of_the_last_period(page: AppTest, app_db: Path, planted: demo_discovery.Planted) -> None:
    assert page.selectbox(key="recon_cloud_period").value == PERIOD
    assert not any("No AWS Config inventory yet" in i.value for i in page.info)
    con = store.connect(app_db)
    try:
        config = con.sql("SELECT serial, lifecycle_status FROM asset WHERE source = 'aws_config'").pl()
        bill = con.sql("SELECT resource_id, sum(effective_cost) AS cost FROM cost_line WHERE billing_period = ? "
                       "AND provider = 'AWS' AND resource_id IS NOT NULL GROUP BY 1", params=[PERIOD]).pl()
        commitments = {r[0] for r in con.execute("SELECT DISTINCT resource_id FROM cost_line WHERE "
                                                 "charge_category = 'Purchase' AND resource_id IS NOT NULL").fetchall()}
    finally:
        con.close()
    # the bill's ids as the keys Config files them under (engine/ingest/contract/keys.py), cost per key
    billed = (bill.with_columns(pl.col("resource_id").map_elements(resource_key, return_dtype=pl.String).alias("k"))
              .group_by("k").agg(pl.col("cost").sum()))
    known = set(config["serial"])
    active = set(config.filter(~pl.col("lifecycle_status").is_in(["retired", "disposed"]))["serial"])
    unbilled = sorted(active - set(billed["k"]))
    missing = billed.filter(~pl.col("k").is_in(known))
    assert _metric(page, "Config resources (active)") == f"{len(active):,}"
    assert _metric(page, "Billed resources") == f"{billed.height:,}"
    assert _metric(page, "Unbilled (in Config, no bill line)") == f"{len(unbilled):,}"
    assert _metric(page, "Undiscovered (billed, not in Config)") == f"{missing.height:,}"
    covered = 100 * (1 - missing["cost"].sum() / billed["cost"].sum())
    assert _metric(page, "Cost known to the inventory") == _pct(float(covered))
    assert 50 < covered < 100
    # the planted gaps: never-billed resources, and billed ones Config does not record
    assert unbilled == planted.cloud_unbilled
    assert set(planted.cloud_absent) <= set(missing["k"])
    # the rest: commitment purchases (not resources) and services the Config connector does not load as assets
    others = set(missing["k"]) - set(planted.cloud_absent) - commitments
    assert {k.split(":")[2] for k in others} <= {"sagemaker", "bedrock", "logs", "guardduty", "securityhub"}
    assert set(planted.cloud_deleted) <= known - active
    shown = _frame(page, "resource_id", "effective_cost")
    assert len(shown) == missing.height and shown["effective_cost"].is_monotonic_decreasing

    at = page_as("reconciliation", "admin").run()
    at.selectbox(key="recon_cloud_list").set_value("unbilled").run()
    assert sorted(_frame(at, "asset_id", "serial", "lifecycle_status")["serial"]) == unbilled


# --- fixture inventories (known answers) loaded into a copy of the demo whose own inventory is removed ------------

@pytest.fixture(scope="module")
def inventory_db(demo_db_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("recon_inventory") / "app.duckdb"
    shutil.copy(demo_db_path, path)
    con = store.connect(path)
    try:
        con.execute("DELETE FROM asset")
        for f in INVENTORIES:
            load(con, FIXTURES / f)
    finally:
        con.close()
    return path


def test_discovery_against_records_with_drill_down(inventory_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APPORTION_DB_PATH", str(inventory_db))
    at = page_as("reconciliation", "fiona").run()
    assert not at.exception
    # the connectors that declare inventory_role="discovery", in the registry's order (priority, then name)
    assert at.multiselect(key="recon_disc").value == ["aws_config", "jamf", "sccm"]
    assert at.multiselect(key="recon_recs").value == ["servicenow"]
    # the fixture inventories' known answers (tests/unit/test_reconcile.py derives them by hand)
    expected = {"Matched": "7", "Ghosts": "3", "Orphans": "8", "Owner mismatches": "2",
                "Cost-centre mismatches": "0", "Retired in records, still discovered": "0"}
    assert {k: _metric(at, k) for k in expected} == expected
    at.selectbox(key="recon_asset_list").set_value("ghosts").run()
    ghosts = _frame(at, "asset_id", "serial", "source")
    in_use_records = {r[0] for r in _sql(inventory_db, "SELECT asset_id FROM asset WHERE source = 'servicenow' AND "
                                         "coalesce(lifecycle_status, 'in_use') NOT IN ('retired', 'disposed', "
                                         "'in_stock')")}
    assert set(ghosts["asset_id"]) <= in_use_records
    assert sorted(ghosts["serial"]) == ["FOC2231X0AB", "GHOST0001", "i-0aaaabbbbccccdddd"]
    at.selectbox(key="recon_asset_list").set_value("owner").run()
    owners = _frame(at, "field", "record_value", "discovered_value")
    assert {(r.record_value, r.discovered_value) for r in owners.itertuples()} == {("carol", "bob"),
                                                                                  ("sql service", "svc_sql")}


def test_cloud_coverage_against_the_bill(inventory_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APPORTION_DB_PATH", str(inventory_db))
    at = page_as("reconciliation", "admin").run()
    assert not at.exception
    assert at.selectbox(key="recon_cloud_period").value == PERIOD
    active = _sql(inventory_db, "SELECT count(*) FROM asset WHERE source = 'aws_config' AND class LIKE 'cloud%' "
                                "AND coalesce(lifecycle_status, 'in_use') NOT IN ('retired', 'disposed')")[0][0]
    billed, cost = _sql(inventory_db, "SELECT count(DISTINCT resource_id), sum(effective_cost)::DOUBLE FROM cost_line "
                                      "WHERE billing_period = ? AND provider ILIKE 'AWS%' AND resource_id IS NOT NULL",
                        [PERIOD])[0]
    assert _metric(at, "Config resources (active)") == f"{active:,}"
    assert _metric(at, "Billed resources") == f"{billed:,}"
    # the fixture's resources live in another account: none is on the demo bill, and the bill is unknown to Config
    assert _metric(at, "Unbilled (in Config, no bill line)") == f"{active:,}"
    assert _metric(at, "Undiscovered (billed, not in Config)") == f"{billed:,}"
    assert _metric(at, "Cost known to the inventory") == "0.0%"
    undiscovered = _frame(at, "resource_id", "effective_cost")
    assert len(undiscovered) == billed
    assert round(undiscovered["effective_cost"].sum(), 2) == round(cost, 2)


def test_empty_store_shows_empty_states(demo_db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "empty.duckdb"
    shutil.copy(demo_db_path, path)
    con = store.connect(path)
    for table in ("cost_line", "asset", "licence_assignment", "licence_entitlement"):
        con.execute(f"DELETE FROM {table}")
    con.close()
    monkeypatch.setenv("APPORTION_DB_PATH", str(path))
    at = page_as("reconciliation", "fiona").run()
    assert not at.exception
    infos = " ".join(i.value for i in at.info)
    for what in ("asset inventory", "AWS billing data", "licence entitlements", "billing data"):
        assert f"No {what} yet" in infos
    assert len(at.dataframe) == 0


# --- the tag standard, edited on the page ---------------------------------------------------------------------------

def test_finops_saves_a_tag_standard_and_coverage_follows(demo_db_path: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "app.duckdb"
    shutil.copy(demo_db_path, path)
    monkeypatch.setenv("APPORTION_DB_PATH", str(path))
    at = page_as("reconciliation", "fiona").run()
    assert not at.exception
    before = _metric(at, "Tag coverage")
    at.text_input(key="tagstd_required").set_value("Cost Center")
    at.text_area(key="tagstd_allowed").set_value("")
    at.text_input(key="tagstd_note").set_value("only the cost centre is required for chargeback")
    next(b for b in at.button if b.label == "Save as a new version").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    # independent: compliant = a cost-centre tag naming a known cost centre; nothing else is required now
    compliant = _sql(path, """
        SELECT 100 * sum(effective_cost) FILTER (WHERE lower(trim(tag_cost_center)) IN
                   (SELECT lower(unit_id) FROM org_unit WHERE kind = 'cost_center')) / sum(effective_cost)
        FROM cost_line WHERE billing_period = ?""", [PERIOD])[0][0]
    assert _metric(at, "Tag coverage") == _pct(compliant) != before
    assert _metric(at, "Incomplete") == _pct(0.0)
    assert _sql(path, "SELECT version, saved_by, note FROM tag_standard") == \
        [(1, "fiona", "only the cost centre is required for chargeback")]
    assert _sql(path, "SELECT count(*) FROM audit_event WHERE action = 'tag_standard_saved'")[0][0] == 1

    at.text_area(key="tagstd_allowed").set_value("environment prod")   # no colon: refused, nothing saved
    next(b for b in at.button if b.label == "Save as a new version").click().run()
    assert any("expected 'key: value, value'" in e.value for e in at.error)
    assert _sql(path, "SELECT count(*) FROM tag_standard")[0][0] == 1


def test_auditor_reads_the_tag_standard_but_gets_no_editor(page: AppTest) -> None:  # noqa: ARG001
    at = page_as("reconciliation", "audrey").run()
    assert not at.exception
    assert not [t for t in at.text_input if t.key == "tagstd_required"]
    assert any("cost_center" in m.value for m in at.markdown if m.value.startswith("**Required:**"))
