"""Provisioning requests: within quota and budget → approved at once; over either → escalated to the named approver
(the cost centre's owner, FinOps, finance above a limit); nobody decides their own; scope and audit hold."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from engine.access.users import get_user
from engine.errors import AccessDenied, InputError
from engine.governance import provisioning, quotas
from engine.governance.provisioning import Request
from engine.settings import get_settings

PERIOD = "2026-10"
ROOT = Path(__file__).resolve().parents[3]


def _user(con: duckdb.DuckDBPyConnection, name: str):  # noqa: ANN202
    u = get_user(con, name)
    assert u is not None
    return u


@pytest.fixture
def cc(demo_con: duckdb.DuckDBPyConnection) -> str:
    """A cost centre with room: owned by omar (an app owner who can sign in), budget = committed + 5,000."""
    cc = str(demo_con.sql("SELECT min(cost_center_id) FROM allocation_result WHERE cost_center_id IS NOT NULL"
                          ).fetchall()[0][0])
    committed = provisioning._committed(demo_con, cc)
    demo_con.execute("DELETE FROM budget WHERE period = ? AND cost_center_id = ?", [PERIOD, cc])
    demo_con.execute("INSERT INTO budget VALUES (?, ?, ?)", [PERIOD, cc, committed + 5000])
    demo_con.execute("UPDATE org_unit SET manager = 'omar' WHERE unit_id = ?", [cc])
    in_use = quotas.use(demo_con, cc, "server").in_use
    quotas.set_quota(demo_con, _user(demo_con, "fiona"), cc, "server", in_use + 2)
    return cc


def test_within_quota_and_budget_is_approved_at_once(demo_con: duckdb.DuckDBPyConnection, cc: str) -> None:
    fiona = _user(demo_con, "fiona")
    no, d = provisioning.submit(demo_con, fiona, Request(cc, "server", Decimal(2), Decimal("4999.99"),
                                                         "capacity for the peak", period=PERIOD))
    assert d.approved and d.level == "none" and d.reasons == []
    assert Decimal(d.budget_after or "0") == Decimal("0.01")                     # 5,000 of room − 4,999.99
    assert demo_con.execute("SELECT state, decided_by FROM provisioning_request WHERE request_no = ?",
                            [no]).fetchall() == [("approved", "automatic")]
    assert any(line.startswith("demo_default v") and "no step takes assets" in line for line in d.policy)
    cloud = provisioning.check(demo_con, fiona, Request(cc, "cloud_instance", Decimal(1), Decimal(1), "vm",
                                                        period=PERIOD))
    assert any("step '" in line for line in cloud.policy)                      # the steps that would carry it
    # the quota now counts the approved request: one more server is over it
    over = provisioning.check(demo_con, fiona, Request(cc, "server", Decimal(1), Decimal(1), "one more",
                                                       period=PERIOD))
    assert not over.approved and over.reasons[0].startswith("over quota: server")
    assert demo_con.execute("SELECT count(*) FROM audit_event WHERE action = 'provision.request'").fetchall() == [
        (1,)]


def test_over_quota_escalates_to_the_cost_centres_owner(demo_con: duckdb.DuckDBPyConnection, cc: str) -> None:
    fiona = _user(demo_con, "fiona")
    no, d = provisioning.submit(demo_con, fiona, Request(cc, "server", Decimal(3), Decimal(500), "migration",
                                                         period=PERIOD))
    assert (d.approved, d.level, d.approver) == (False, "cost_center_owner", "omar")
    with pytest.raises(AccessDenied, match="someone else"):
        provisioning.decide(demo_con, no, "Fiona", True, "mine")                 # the requester, any spelling
    with pytest.raises(AccessDenied, match="needs omar approval"):
        provisioning.decide(demo_con, no, "audrey", True, "auditors do not approve")
    with pytest.raises(InputError, match="say why"):
        provisioning.decide(demo_con, no, "omar", True, " ")
    assert provisioning.decide(demo_con, no, "omar", True, "planned migration") == "approved"
    assert demo_con.execute("SELECT actor, detail->>'$.reason' FROM audit_event WHERE action = 'provision.approve'"
                            ).fetchall() == [("omar", "planned migration")]


def test_over_budget_escalates_to_finops_then_finance_above_the_limit(demo_con: duckdb.DuckDBPyConnection,
                                                                       cc: str) -> None:
    fiona = _user(demo_con, "fiona")
    limits = get_settings()
    mid = limits.provision_owner_limit + 1
    assert mid <= limits.provision_finance_limit
    _, budget_only = provisioning.submit(demo_con, fiona, Request(cc, "server", Decimal(1), Decimal(5001),
                                                                  "big box", period=PERIOD))
    assert budget_only.level == "finops" and budget_only.reasons[0].startswith("over budget")  # 5,001 > 5,000 room
    big = limits.provision_finance_limit + 1
    no, d = provisioning.submit(demo_con, fiona, Request(cc, "server", Decimal(1), big, "new cluster",
                                                         period=PERIOD))
    assert (d.level, d.approver) == ("finance", "executive")
    with pytest.raises(AccessDenied, match="needs finance approval"):
        provisioning.decide(demo_con, no, "omar", True, "owner is not enough")
    assert provisioning.decide(demo_con, no, "eve", False, "not this quarter") == "rejected"
    no_budget = provisioning.check(demo_con, fiona, Request(cc, "server", Decimal(1), Decimal(1), "x",
                                                            period="2031-01"))
    assert not no_budget.approved and "no budget" in no_budget.reasons[0]


def test_an_app_owner_asks_only_for_their_own_cost_centres(demo_con: duckdb.DuckDBPyConnection, cc: str) -> None:
    omar = _user(demo_con, "omar")
    outside = str(demo_con.sql("SELECT min(unit_id) FROM org_unit WHERE kind = 'cost_center' AND unit_id NOT IN "
                               "(SELECT cost_center_id FROM application WHERE owner = 'omar')").fetchall()[0][0])
    with pytest.raises(AccessDenied, match=outside):
        provisioning.check(demo_con, omar, Request(outside, "server", Decimal(1), Decimal(1), "x", period=PERIOD))
    with pytest.raises(AccessDenied):
        provisioning.check(demo_con, _user(demo_con, "eve"), Request(cc, "server", Decimal(1), Decimal(1), "x"))


def test_the_pipeline_asks_through_the_cli(demo_con: duckdb.DuckDBPyConnection, cc: str) -> None:
    path = demo_con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
                            ).fetchall()[0][0]
    demo_con.close()

    def ask(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "engine", "provision", *extra, "--db", path, "--user", "fiona",
                               "--cost-center", cc, "--class", "server", "--justification", "ci deploy",
                               "--period", PERIOD], cwd=ROOT, capture_output=True, text=True, timeout=120)

    ok = ask("check", "--quantity", "1", "--monthly-cost", "100", "--json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["approved"] is True
    escalated = ask("request", "--quantity", "9", "--monthly-cost", "100")
    assert escalated.returncode == 4 and "needs approval by omar (cost_center_owner)" in escalated.stdout
    bad = ask("check", "--quantity", "0", "--monthly-cost", "100")
    assert bad.returncode == 1 and "quantity must be positive" in bad.stderr
