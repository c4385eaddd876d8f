"""The demo organisation generator: deterministic, shaped as docs/demo-data.md promises, fast enough."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import duckdb
import pytest

from data import demo_discovery
from data.demo_billing import SPIKES, period_labels
from data.generate import DEMO_LOGINS, generate
from engine import store

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo(demo_db_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    c = duckdb.connect(str(demo_db_path), read_only=True)
    yield c
    c.close()


def one(con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None) -> object:
    return con.execute(sql, params or []).fetchall()[0][0]


# what the ingest pipeline stamps on the discovery exports it loads: batch ids (uuid), load times, the audit chain
STAMPED = {"asset", "ingest_batch", "audit_event", "audit_checkpoint", "audit_append_lock"}


def _stable(c: duckdb.DuckDBPyConnection) -> tuple[object, ...]:
    """The stamped tables without their stamps: assets without batch ids, batches by source, file, hash and rows."""
    return (c.execute("SELECT count(*), sum(hash(t)) FROM (SELECT * EXCLUDE (batch_id) FROM asset) t").fetchall(),
            c.execute("SELECT source_kind, file_name, content_hash, target_table, rows_read, rows_loaded, "
                      "rows_quarantined FROM ingest_batch ORDER BY ALL").fetchall())


def test_same_seed_gives_identical_content() -> None:
    # rows a migration seeds (e.g. the default GL mapping, stamped when migrated) are not the generator's content
    empty = store.connect(":memory:")
    seeded = {t for t, (n, _) in store.table_checksums(empty).items() if n} | {"schema_migration"}
    empty.close()
    sums = []
    for seed in (7, 7, 8):
        c = store.connect(":memory:")
        generate(c, seed=seed, lines=5_000)
        sums.append(({t: v for t, v in store.table_checksums(c).items() if t not in seeded | STAMPED}, _stable(c)))
        c.close()
    assert sums[0] == sums[1]
    assert sums[0][0]["cost_line"] != sums[2][0]["cost_line"]
    assert sums[0][1] != sums[2][1]


def test_discovery_exports_are_deterministic_and_are_what_was_loaded(demo: duckdb.DuckDBPyConnection) -> None:
    """Same store and seed → byte-identical export files; the demo's discovery batches hold exactly those files."""
    first, again, other = demo_discovery.build(demo, 42), demo_discovery.build(demo, 42), demo_discovery.build(demo, 7)
    digest = {n: hashlib.sha256(b).hexdigest() for n, b in first.files.items()}
    assert digest == {n: hashlib.sha256(b).hexdigest() for n, b in again.files.items()}
    assert first.planted == again.planted
    assert digest != {n: hashlib.sha256(b).hexdigest() for n, b in other.files.items()}
    loaded = demo.execute("SELECT file_name, content_hash, source_kind, loaded_by FROM ingest_batch "
                          "WHERE target_table = 'asset' AND source_kind <> 'demo' ORDER BY loaded_at").fetchall()
    assert [(f, h) for f, h, _, _ in loaded] == list(digest.items())     # loaded in this order, these bytes
    assert [k for _, _, k, _ in loaded] == ["aws_config"] * 3 + ["sccm", "jamf"]
    assert {by for *_, by in loaded} == {"demo-generator"}


def test_discovery_defects_are_a_handful_each(demo: duckdb.DuckDBPyConnection) -> None:
    planted = demo_discovery.build(demo, 42).planted
    devices = one(demo, "SELECT count(*) FROM asset WHERE source IN ('sccm', 'jamf')")
    in_use = one(demo, "SELECT count(*) FROM asset WHERE source = 'servicenow' AND lifecycle_status = 'in_use'"
                       " AND class IN ('laptop', 'desktop', 'server')")
    cloud = one(demo, "SELECT count(*) FROM asset WHERE source = 'aws_config'")
    for found, population in ((planted.shadow, devices), (planted.ghosts, in_use), (planted.owner, in_use),
                              (planted.serial, in_use), (planted.cloud_absent, cloud),
                              (planted.cloud_unbilled, cloud)):
        assert 3 <= len(found) <= 0.05 * population, (len(found), population)  # type: ignore[operator]
    assert len(planted.both_agents) == 4 and len(planted.retired_reporting) == 4
    assert len(planted.cost_center) >= 3 and len(planted.duplicate_serial_device) == 1
    # the defect lists do not overlap: each register asset carries at most one planted discovery defect
    ids = planted.ghosts + planted.owner + planted.serial + planted.cost_center + planted.retired_reporting
    assert len(ids) == len(set(ids))


def test_row_counts_near_requested(demo: duckdb.DuckDBPyConnection) -> None:
    from tests.conftest import DEMO_TEST_LINES

    n = one(demo, "SELECT count(*) FROM cost_line")
    assert abs(int(n) - DEMO_TEST_LINES) <= DEMO_TEST_LINES * 0.01  # type: ignore[arg-type]
    counts = store.table_counts(demo)
    assert counts["org_unit"] == 46 and counts["application"] == 64
    assert 2_000 < one(demo, "SELECT count(*) FROM asset WHERE source = 'servicenow'") < 2_500  # type: ignore[operator]
    assert counts["licence_entitlement"] == 11
    assert counts["budget"] == 40 * 12


def test_twelve_periods_three_providers(demo: duckdb.DuckDBPyConnection) -> None:
    periods = [r[0] for r in demo.execute("SELECT DISTINCT billing_period FROM cost_line ORDER BY 1").fetchall()]
    assert periods == period_labels("2026-10", 12) and periods[0] == "2025-11"
    providers = {r[0] for r in demo.execute("SELECT DISTINCT provider FROM cost_line").fetchall()}
    assert providers == {"AWS", "Microsoft", "Google Cloud"}
    monthly = [float(r[0]) for r in demo.execute(
        "SELECT sum(effective_cost) FROM cost_line GROUP BY billing_period ORDER BY billing_period").fetchall()]
    assert all(1_500_000 < m < 3_000_000 for m in monthly)
    assert monthly[-1] > monthly[0]  # mild growth


def test_untagged_share_of_effective_cost(demo: duckdb.DuckDBPyConnection) -> None:
    share = one(demo, "SELECT sum(effective_cost) FILTER (WHERE tag_cost_center IS NULL) / sum(effective_cost)"
                      " FROM cost_line")
    assert 0.05 <= float(share) <= 0.12  # type: ignore[arg-type]


def test_tags_point_at_real_cost_centres_except_the_mistagged(demo: duckdb.DuckDBPyConnection) -> None:
    missing = one(demo, "SELECT count(*) FROM cost_line WHERE regexp_full_match(tag_cost_center, 'CC[0-9]{3}')"
                        " AND tag_cost_center NOT IN (SELECT unit_id FROM org_unit WHERE kind = 'cost_center')")
    assert missing == 0
    mistagged = {r[0] for r in demo.execute(
        "SELECT DISTINCT tag_cost_center FROM cost_line WHERE tag_cost_center IS NOT NULL"
        " AND tag_cost_center NOT IN (SELECT unit_id FROM org_unit)").fetchall()}
    assert mistagged and mistagged <= {"cc-12", "marketing", "CC-7", "finance", "tbd", "cc0015", "retail"}
    assert one(demo, "SELECT count(*) FROM cost_line WHERE tags['cost_center'] IS DISTINCT FROM tag_cost_center") == 0


def test_hierarchy_and_ownership_are_consistent(demo: duckdb.DuckDBPyConnection) -> None:
    assert one(demo, "SELECT count(*) FROM application a LEFT JOIN org_unit o"
                     " ON o.unit_id = a.cost_center_id AND o.kind = 'cost_center' WHERE o.unit_id IS NULL") == 0
    assert one(demo, "SELECT count(*) FROM org_unit c LEFT JOIN org_unit b ON b.unit_id = c.parent_id"
                     " AND b.kind = 'business_unit' WHERE c.kind = 'cost_center' AND b.unit_id IS NULL") == 0
    assert one(demo, "SELECT count(DISTINCT c.sub_account_id) FROM cost_line c LEFT JOIN account_owner a"
                     " USING (provider, sub_account_id) WHERE a.cost_center_id IS NULL") == 0
    scope = {r[0] for r in demo.execute("SELECT cost_center_id FROM user_scope WHERE username = 'omar'").fetchall()}
    assert scope == {"CC015", "CC016", "CC017"}
    owners = dict(demo.execute("SELECT app_id, owner FROM application").fetchall())
    in_scope = {r[0] for r in demo.execute("SELECT app_id FROM application WHERE cost_center_id IN"
                                           " ('CC015', 'CC016', 'CC017')").fetchall()}
    assert in_scope and all(owners[a] == "omar" for a in in_scope)
    assert all(owners[a] != "omar" for a in set(owners) - in_scope)
    assert {"SHR-NET", "SHR-BKP", "SHR-SEC", "SHR-K8S"} <= set(owners)


def test_commitments_amortise_consistently(demo: duckdb.DuckDBPyConnection) -> None:
    rows = demo.execute("""
        SELECT billing_period, commitment_discount_id,
            sum(billed_cost) FILTER (WHERE charge_category = 'Purchase') AS fee,
            sum(effective_cost) FILTER (WHERE charge_category = 'Usage') AS amortised,
            sum(effective_cost) FILTER (WHERE charge_category = 'Purchase') AS purchase_eff,
            sum(billed_cost) FILTER (WHERE charge_category = 'Usage') AS usage_billed
        FROM cost_line WHERE commitment_discount_id IS NOT NULL GROUP BY ALL""").fetchall()
    assert rows
    for _, _, fee, amortised, purchase_eff, usage_billed in rows:
        assert fee > 0 and purchase_eff == 0 and usage_billed == 0 and fee == amortised
    assert one(demo, "SELECT count(*) FROM cost_line WHERE pricing_category = 'Committed' AND charge_category ="
                     " 'Usage' AND commitment_discount_status = 'Used' AND effective_cost >= list_cost") == 0
    assert one(demo, "SELECT count(*) FROM cost_line WHERE charge_category = 'Credit' AND billed_cost < 0") > 0


def test_spikes_are_where_the_docs_say(demo: duckdb.DuckDBPyConnection) -> None:
    docs = (ROOT / "docs" / "demo-data.md").read_text()
    periods = period_labels("2026-10", 12)
    for app, provider, service, idx, factor in SPIKES:
        got = dict(demo.execute(
            "SELECT billing_period, sum(effective_cost) FROM cost_line WHERE tag_application = ? AND provider = ?"
            " AND service_name = ? GROUP BY ALL", [app, provider, service]).fetchall())
        ratio = float(got[periods[idx]] / got[periods[idx - 1]])
        assert factor * 0.8 < ratio < factor * 1.25, (app, service, ratio)
        back = float(got[periods[idx + 1]] / got[periods[idx]]) if idx + 1 < len(periods) else 0.0
        assert back < 0.6  # a one-month spike
        assert app in docs and periods[idx] in docs and service in docs


def test_demo_users_cover_every_role_and_verify(demo: duckdb.DuckDBPyConnection) -> None:
    users = {u: (role, h) for u, role, h in demo.execute(
        "SELECT username, role, password_hash FROM app_user").fetchall()}
    assert {r for r, _ in users.values()} == {"admin", "finops", "executive", "app_owner", "auditor"}
    assert set(users) == set(DEMO_LOGINS)
    for user, (password, role) in DEMO_LOGINS.items():
        assert users[user][0] == role
        assert bcrypt.checkpw(password.encode(), users[user][1].encode())
    assert not bcrypt.checkpw(b"demo-admin", users["fiona"][1].encode())


def test_reciprocal_shared_service_drivers(demo: duckdb.DuckDBPyConnection) -> None:
    pairs = set(demo.execute("SELECT DISTINCT driver, target_id FROM driver_value WHERE target_id LIKE 'SHR-%'")
                .fetchall())
    assert ("bandwidth_gb", "SHR-SEC") in pairs and ("protected_assets", "SHR-NET") in pairs
    assert ("bandwidth_gb", "SHR-NET") not in pairs and ("protected_assets", "SHR-SEC") not in pairs


def test_inventory_has_the_documented_defects(demo: duckdb.DuckDBPyConnection) -> None:
    register = "FROM asset WHERE source = 'servicenow'"   # the ServiceNow register (discovery is tested above)
    assert one(demo, f"SELECT count(*) {register} AND location IS NULL") == 15
    assert one(demo, f"SELECT count(*) {register} AND lifecycle_status = 'retired' AND owner IS NOT NULL") == 12
    assert one(demo, f"SELECT count(*) FROM (SELECT serial {register} GROUP BY serial HAVING count(*) > 1)") == 1
    assert one(demo, f"SELECT count(*) {register} AND class = 'server' AND app_id IS NULL") == 3
    over = demo.execute("SELECT e.product FROM licence_entitlement e JOIN licence_assignment a USING (product)"
                        " GROUP BY e.product, e.entitlements HAVING count(*) > e.entitlements").fetchall()
    assert over == [("Tableau Creator",)]
    stale = one(demo, "SELECT avg(CASE WHEN last_active < DATE '2026-11-01' - 90 THEN 1.0 ELSE 0 END)"
                      " FROM licence_assignment")
    assert 0.04 < float(stale) < 0.10  # type: ignore[arg-type]


def test_cli_if_empty_is_a_noop_on_a_filled_store(tmp_path: Path) -> None:
    db = tmp_path / "cli.duckdb"
    env = {**os.environ, "APPORTION_DB_PATH": str(db)}
    first = subprocess.run([sys.executable, "-m", "data.generate", "--lines", "5000", "--if-empty"],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert "Elapsed" in first.stdout
    second = subprocess.run([sys.executable, "-m", "data.generate", "--db", str(db), "--if-empty"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    assert "not generated" in second.stdout
    c = duckdb.connect(str(db), read_only=True)
    assert one(c, "SELECT count(*) FROM cost_line") == 5_000
    c.close()


def test_default_size_timing(tmp_path: Path) -> None:
    c = store.connect(tmp_path / "timing.duckdb")
    started = time.perf_counter()
    counts = generate(c)
    elapsed = time.perf_counter() - started
    c.close()
    print(f"\ndemo generation, {counts['cost_line']:,} cost lines: {elapsed:.1f} s")
    assert counts["cost_line"] == 200_000
