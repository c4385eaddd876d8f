"""Month close depreciates assets on the configured fiscal year (setting fiscal_year_start_month).

A real store and real runs: a half-year-convention server bought on 3 October 2026 (120,000 straight line over 60
months = 2,000 a month) and a full-month server (36,000 over 36 months = 1,000 a month) charged to their owners.
With a January fiscal year the half-year convention starts depreciation on 1 July 2026 (the middle of FY2026), so
October 2026 catches up July–October: 4 × 2,000 = 8,000. With an April fiscal year (FY2027 = Apr 2026 – Mar 2027)
it starts on 1 October 2026, so October carries one month, 2,000. The full-month server is 1,000 either way.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from engine import settings as settings_mod
from engine.allocation import whatif
from engine.allocation.runs import run_allocation
from engine.rules import model
from tests.unit.allocation_data import add_org, posted_by_target

D = Decimal
OCTOBER, NOVEMBER = "2026-10", "2026-11"


@pytest.fixture(autouse=True)
def _no_secrets_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Only the environment decides: a developer's .streamlit/secrets.toml must not leak into these runs."""
    monkeypatch.setattr(settings_mod, "SECRETS_FILE", tmp_path / "no-secrets.toml")


def _fiscal_year_starts(monkeypatch: pytest.MonkeyPatch, month: int) -> None:
    monkeypatch.setenv("APPORTION_FISCAL_YEAR_START_MONTH", str(month))
    cache_clear = getattr(settings_mod.get_settings, "cache_clear", None)  # get_settings builds anew each call
    if cache_clear is not None:
        cache_clear()
    assert settings_mod.get_settings().fiscal_year_start_month == month


def _servers(con: duckdb.DuckDBPyConnection) -> model.RuleSet:
    add_org(con, {"CC1": None, "CC2": None})
    con.execute(
        "INSERT INTO asset (asset_id, class, cost_center_id, purchase_date, cost, residual, useful_life_months,"
        " depreciation_method, depreciation_convention) VALUES"
        " ('SRV-HY', 'server', 'CC1', DATE '2026-10-03', 120000, 0, 60, 'straight_line', 'half_year'),"
        " ('SRV-FM', 'server', 'CC2', DATE '2026-01-01', 36000, 0, 36, 'straight_line', 'full_month')"
    )
    return model.from_data({"name": "servers", "steps": [
        {"id": "servers", "name": "Servers", "source": {"kind": "assets"}, "method": {"kind": "direct"}}]})


def test_month_close_depreciation_follows_the_fiscal_year_setting(con: duckdb.DuckDBPyConnection,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    rs = _servers(con)
    _fiscal_year_starts(monkeypatch, 1)
    january = run_allocation(con, OCTOBER, rs)
    assert posted_by_target(con, january.run_key) == {"CC1": D("8000.00"), "CC2": D("1000.00")}
    assert january.total_out == D("9000.00")

    _fiscal_year_starts(monkeypatch, 4)
    april = run_allocation(con, OCTOBER, rs)
    assert posted_by_target(con, april.run_key) == {"CC1": D("2000.00"), "CC2": D("1000.00")}
    assert april.total_out == D("3000.00")
    # Another fiscal year is another input: a new run, and the January run stays for comparison.
    assert april.run_key != january.run_key and not april.replaced
    assert posted_by_target(con, january.run_key) == {"CC1": D("8000.00"), "CC2": D("1000.00")}
    # The same setting again is the same run, replaced rather than added.
    assert run_allocation(con, OCTOBER, rs).run_key == april.run_key

    # From November both fiscal years charge the ordinary month; still two runs, told apart by their key.
    nov_april = run_allocation(con, NOVEMBER, rs)
    _fiscal_year_starts(monkeypatch, 1)
    nov_january = run_allocation(con, NOVEMBER, rs)
    for run in (nov_april, nov_january):
        assert posted_by_target(con, run.run_key) == {"CC1": D("2000.00"), "CC2": D("1000.00")}
    assert nov_april.run_key != nov_january.run_key


def test_an_explicit_fiscal_year_wins_over_the_setting(con: duckdb.DuckDBPyConnection,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    rs = _servers(con)
    _fiscal_year_starts(monkeypatch, 1)
    run = run_allocation(con, OCTOBER, rs, fiscal_year_start_month=4)
    assert posted_by_target(con, run.run_key) == {"CC1": D("2000.00"), "CC2": D("1000.00")}


def test_what_if_uses_the_same_fiscal_year_as_month_close(con: duckdb.DuckDBPyConnection,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    rs = _servers(con)
    for month, hy in ((1, D("8000.00")), (4, D("2000.00"))):
        _fiscal_year_starts(monkeypatch, month)
        rows = whatif.evaluate_rows(whatif.prepare(con, OCTOBER, rs))
        assert dict(zip(rows["target_id"], rows["amount"], strict=True)) == {"CC1": hy, "CC2": D("1000.00")}
        assert whatif.prepare(con, OCTOBER, rs).data.fiscal_year_start_month == month
