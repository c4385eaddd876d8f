"""One vocabulary in the engine: calendar neighbours, stray months, the model in force, one "Charged", one name for
the unallocated line, and keep-central vs on-demand-equivalent telling different (and traceable) stories."""

from __future__ import annotations

from decimal import Decimal

import duckdb
import polars as pl
import pytest

from engine.access.users import get_user
from engine.costmodels.presets import FULL_RECOVERY
from engine.costmodels.scenarios import Scenario, apply_scenario, compare, load_allocated
from engine.errors import InputError
from engine.ingest.contract.frames import stored_columns
from engine.insights import comparison, overview
from engine.rules import versions
from engine.rules.model import UNALLOCATED

LAST = "2026-10"


def _stray(con: duckdb.DuckDBPyConnection, period: str, n: int = 5) -> None:
    cols = ", ".join(stored_columns("cost_line"))
    con.execute(f"INSERT INTO cost_line ({cols}) SELECT * REPLACE (? AS billing_period) "
                f"FROM (SELECT {cols} FROM cost_line WHERE billing_period = ? LIMIT ?)", [period, LAST, n])


def test_previous_period_is_the_calendar_neighbour() -> None:
    assert overview.previous_period("2026-10") == "2026-09"
    assert overview.previous_period("2026-01") == "2025-12"
    with pytest.raises(InputError):
        overview.previous_period("2026-13")


def test_a_handful_of_late_lines_is_a_stray_month(demo_con: duckdb.DuckDBPyConnection) -> None:
    _stray(demo_con, "2023-11")
    _stray(demo_con, "2024-09", 7)
    health = overview.period_health(demo_con)
    assert overview.stray_periods(demo_con) == ["2023-11", "2024-09"]
    assert health["2024-09"].lines == 7 and "7 lines" in health["2024-09"].reason
    assert not health[LAST].stray and health[LAST].reason == ""


def test_kpis_compare_with_the_calendar_month_and_say_no_data(demo_con: duckdb.DuckDBPyConnection) -> None:
    eve = get_user(demo_con, "eve")
    assert eve is not None
    months = dict(demo_con.execute("SELECT billing_period, sum(effective_cost) FROM cost_line GROUP BY 1").fetchall())
    k = overview.kpis(demo_con, eve, LAST)
    assert (k.previous_period, k.previous_state, k.previous_total) == ("2026-09", "data", months["2026-09"])
    assert k.change_pct == pytest.approx(float((months[LAST] - months["2026-09"]) / months["2026-09"] * 100))
    first = overview.kpis(demo_con, eve, "2025-11")      # the first loaded month: its neighbour is empty
    assert (first.previous_period, first.previous_state, first.change_pct) == ("2025-10", "no data", None)
    _stray(demo_con, "2024-09")                           # stray rows ten months before: never the neighbour
    assert overview.kpis(demo_con, eve, "2025-11").previous_state == "no data"
    _stray(demo_con, "2025-10")                           # stray rows in the neighbour: flagged, no change shown
    k = overview.kpis(demo_con, eve, "2025-11")
    assert (k.previous_state, k.change_pct) == ("stray", None)
    movers = overview.top_movers(demo_con, eve, LAST)
    by_sql = demo_con.execute(
        "SELECT sum(effective_cost) FILTER (WHERE billing_period = '2026-09')::DOUBLE FROM cost_line").fetchall()
    assert movers["previous"].sum() <= by_sql[0][0] + 0.01   # only 2026-09 is the previous month


def test_trend_frames_leave_out_the_periods_asked(demo_con: duckdb.DuckDBPyConnection) -> None:
    eve = get_user(demo_con, "eve")
    assert eve is not None
    _stray(demo_con, "2024-09")
    assert "2024-09" in overview.spend_by_month(demo_con, eve)["period"].to_list()
    stray = overview.stray_periods(demo_con)
    assert "2024-09" not in overview.spend_by_month(demo_con, eve, exclude=stray)["period"].to_list()
    assert "2024-09" not in overview.untagged_share_by_month(demo_con, eve, exclude=stray)["period"].to_list()


def test_recovery_reads_the_approved_version_in_force_never_a_pending_one(
        demo_con: duckdb.DuckDBPyConnection) -> None:
    rv = versions.as_of(demo_con, "demo_default", LAST)
    v = versions.create_draft(demo_con, rv.rule_set, "fiona", "workshop idea", LAST, parent_version=rv.version)
    versions.submit(demo_con, "demo_default", v, "fiona")
    model = overview.model_in_force(demo_con, LAST)
    assert model is not None and (model.rule_set, model.version, model.approver) == (
        "demo_default", rv.version, rv.approver)
    rec = overview.recovery(demo_con, LAST, FULL_RECOVERY)
    assert rec is not None and rec.run_key == model.run_key and rec.rule_version == rv.version


def test_charged_excludes_the_unallocated_line_on_both_pages(demo_con: duckdb.DuckDBPyConnection) -> None:
    fiona = get_user(demo_con, "fiona")
    assert fiona is not None
    posted, unalloc = demo_con.execute(
        "SELECT sum(posted_amount), sum(posted_amount) FILTER (WHERE target_id = 'UNALLOCATED') FROM"
        " allocation_result r JOIN allocation_run a USING (run_key) WHERE a.period = ? AND a.status = 'posted'",
        [LAST]).fetchall()[0]
    assert unalloc > 0
    rec = overview.recovery(demo_con, LAST, FULL_RECOVERY)
    assert rec is not None and rec.charged == posted - unalloc == rec.invoiced
    for by in ("business_unit", "cost_center", "application"):
        out = comparison.compare_period(demo_con, fiona, LAST, [FULL_RECOVERY], FULL_RECOVERY.name, by)  # type: ignore[arg-type]
        central = comparison.carried_centrally(out)
        assert central["charged"][0] == rec.charged
        assert central["unallocated"][0] == unalloc
        dim = out.columns[1]
        # the unallocated line has one name on every dimension, and one display name
        assert out.filter(pl.col(dim) == UNALLOCATED)["allocated"].sum() == unalloc
        assert out.filter(pl.col(dim) == UNALLOCATED)["name"].to_list() == ["Unallocated (carried centrally)"]
        assert "UNASSIGNED" not in out[dim].to_list()


def _small() -> pl.DataFrame:
    rows = [("cost_center", "CC1", "CC1", None, "tagged", "direct", "60.00", "BU1"),
            ("cost_center", "CC2", "CC2", None, "tagged", "direct", "40.00", "BU1"),
            ("cost_center", "CC1", "CC1", None, "unused_commitments", "allocated", "6.00", "BU1"),
            ("cost_center", "CC2", "CC2", None, "unused_commitments", "allocated", "4.00", "BU1"),
            ("unallocated", UNALLOCATED, None, None, "tagged", "direct", "5.00", UNALLOCATED)]
    return pl.DataFrame(rows, schema=["target_kind", "target_id", "cost_center_id", "app_id", "source_pool",
                                      "method", "posted_amount", "business_unit_id"], orient="row").with_columns(
        pl.col("posted_amount").cast(pl.Decimal(18, 2)))


def test_keep_central_and_on_demand_equivalent_differ_by_the_savings() -> None:
    keep = Scenario(name="keep", model="full_recovery", unused_commitment_policy="keep_central",
                    unused_commitment_pools=["unused_commitments"])
    od = keep.model_copy(update={"name": "od", "unused_commitment_policy": "on_demand_equivalent"})
    uplift = pl.DataFrame({"target_id": ["CC1", "CC2", "CC9"], "uplift": [Decimal("12.345"), Decimal("7.655"),
                                                                         Decimal("3")]})
    k = apply_scenario(_small(), keep).filter(pl.col("target_id") != UNALLOCATED)
    o = apply_scenario(_small(), od, on_demand=uplift).filter(pl.col("target_id") != UNALLOCATED)
    # keep central: consumers pay 100 of 110 allocated; the 10 of unused commitment is shown as kept central
    assert k["charge"].sum() == Decimal("100.00") and k["commitment_central"].sum() == Decimal("10.00")
    # on-demand equivalent: consumers also pay the 20.00 of on-demand uplift (CC9 has no row: stays central)
    assert o["charge"].sum() == Decimal("120.00") and o["commitment_central"].sum() == Decimal("-10.00")
    assert dict(zip(o["target_id"], o["charge"], strict=True)) == {"CC1": Decimal("72.35"), "CC2": Decimal("47.65")}
    with pytest.raises(InputError, match="on-demand uplift"):
        apply_scenario(_small(), od)


def test_compare_names_the_unallocated_line_once_on_every_dimension() -> None:
    for by in ("business_unit", "cost_center", "application"):
        out = compare(_small(), [FULL_RECOVERY], FULL_RECOVERY.name, by=by)  # type: ignore[arg-type]
        dim = out.columns[1]
        assert out.filter(pl.col(dim) == UNALLOCATED)["allocated"].to_list() == [Decimal("5.00")]


def test_demo_on_demand_uplift_matches_the_bill(demo_con: duckdb.DuckDBPyConnection) -> None:
    up = comparison.on_demand_uplift(demo_con, LAST)
    total = demo_con.execute("SELECT sum(list_cost - effective_cost) FROM cost_line WHERE billing_period = ?"
                             " AND commitment_discount_status = 'Used'", [LAST]).fetchall()[0][0]
    assert Decimal(up["uplift"].sum()) <= total and Decimal(up["uplift"].sum()) > total * Decimal("0.9")
    run = overview.model_in_force(demo_con, LAST)
    assert run is not None and run.run_key is not None
    allocated = load_allocated(demo_con, run.run_key)
    assert set(up["target_id"]) <= set(allocated["target_id"])
