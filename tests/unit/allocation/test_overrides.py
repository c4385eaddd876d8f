"""Workshop overrides: a driver switch and a fixed split re-share the same cents; bad splits are refused by name."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from engine import store
from engine.allocation import overrides, whatif
from engine.allocation.cascade import UNALLOCATED_KIND
from engine.errors import InputError
from engine.rules import model
from engine.rules.model import RuleSet

PERIOD = "2026-10"
DEMO_RULES = Path(__file__).resolve().parents[3] / "engine" / "rules" / "rulesets" / "demo_default.yaml"


@pytest.fixture(scope="module")
def con(demo_db_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    copy = tmp_path_factory.mktemp("overrides") / "demo.duckdb"
    copy.write_bytes(demo_db_path.read_bytes())
    c = store.connect(copy)
    yield c
    c.close()


@pytest.fixture(scope="module")
def prep(con: duckdb.DuckDBPyConnection) -> whatif.Prepared:
    return whatif.prepare(con, PERIOD, "demo_default")


def _month(con: duckdb.DuckDBPyConnection) -> Decimal:
    return Decimal(con.execute("SELECT sum(effective_cost)::DECIMAL(18, 2) FROM cost_line WHERE billing_period = ?",
                               [PERIOD]).fetchall()[0][0])


def _with_fixed_overhead() -> RuleSet:
    body: dict[str, Any] = model.load(DEMO_RULES).body()
    step = next(s for s in body["steps"] if s["id"] == "it_overhead")
    step["method"] = {"kind": "fixed", "split": {"CC001": "50", "CC002": "30", "CC003": "20"}}
    return RuleSet.model_validate(body)


def test_driver_switch_conserves_to_the_cent_and_shares_by_headcount(con: duckdb.DuckDBPyConnection,
                                                                     prep: whatif.Prepared) -> None:
    month = _month(con)
    switched = {"network": ("headcount", "cost_center")}
    rows = whatif.evaluate_rows(prep, drivers=switched)
    assert Decimal(rows["amount"].sum()) == month                       # every cent of the month, once
    assert Decimal(whatif.evaluate(prep, drivers=switched)["amount"].sum()) == month
    net = rows.filter((pl.col("source_pool") == "network") & (pl.col("target_kind") != UNALLOCATED_KIND))
    assert set(net["target_kind"]) == {"cost_center"} and set(net["driver"]) == {"headcount"}
    heads = prep.data.drivers[("headcount", "cost_center")]
    total, all_heads = Decimal(net["amount"].sum()), sum(heads.values(), Decimal(0))
    for cc, amount in net.group_by("target_id").agg(pl.col("amount").sum()).iter_rows():
        assert abs(Decimal(amount) - total * heads[cc] / all_heads) < Decimal("0.01"), cc


def test_driver_switch_moves_money_between_units(prep: whatif.Prepared) -> None:
    base = whatif.evaluate(prep).group_by("business_unit_id").agg(pl.col("amount").sum())
    moved = whatif.evaluate(prep, drivers={"network": ("headcount", "cost_center")})
    moved = moved.group_by("business_unit_id").agg(pl.col("amount").sum().alias("moved"))
    both = base.join(moved, on="business_unit_id", how="full", coalesce=True).fill_null(Decimal(0))
    assert both.filter(pl.col("amount") != pl.col("moved")).height >= 2
    assert Decimal(both["amount"].sum()) == Decimal(both["moved"].sum())


def test_driver_switch_is_refused_where_it_cannot_apply(prep: whatif.Prepared) -> None:
    with pytest.raises(InputError, match="not driver"):
        overrides.apply(prep.rule_set, drivers={"it_overhead": ("headcount", "cost_center")})
    with pytest.raises(InputError, match="target kind"):
        overrides.apply(prep.rule_set, drivers={"network": ("headcount", "team")})
    with pytest.raises(InputError, match="no step"):
        overrides.apply(prep.rule_set, drivers={"nowhere": ("headcount", "cost_center")})
    with pytest.raises(InputError, match="no 'headcount' quantities per application"):
        whatif.evaluate(prep, drivers={"network": ("headcount", "application")})


def test_switch_to_another_kind_drops_the_old_kinds_target_list() -> None:
    body: dict[str, Any] = model.load(DEMO_RULES).body()
    next(s for s in body["steps"] if s["id"] == "backup")["method"]["targets"] = ["APP001", "APP002"]
    rs = overrides.apply(RuleSet.model_validate(body), drivers={"backup": ("headcount", "cost_center")})
    step = rs.step("backup")
    assert (step.method.driver, step.target_kind, step.method.targets) == ("headcount", "cost_center", None)


def test_from_params_reads_driver_switches_as_stored_with_a_run() -> None:
    rs = overrides.from_params(model.load(DEMO_RULES), {"drivers": {"network": ["headcount", "cost_center"]}})
    assert (rs.step("network").method.driver, rs.step("network").target_kind) == ("headcount", "cost_center")


def test_fixed_split_reshares_the_pool_to_the_cent(con: duckdb.DuckDBPyConnection) -> None:
    fixed = whatif.prepare(con, PERIOD, _with_fixed_overhead())
    assert fixed.fixed_steps == {"it_overhead": {"CC001": 50, "CC002": 30, "CC003": 20}}
    rows = whatif.evaluate_rows(fixed, splits={"it_overhead": {"CC001": 25, "CC002": 25, "CC003": 50}})
    assert Decimal(rows["amount"].sum()) == _month(con)
    step = rows.filter(pl.col("source_pool") == "it_overhead").group_by("target_id").agg(pl.col("amount").sum())
    got = dict(step.iter_rows())
    pool = sum(got.values(), Decimal(0))
    assert pool > 0
    assert abs(got["CC001"] - pool * Decimal("0.25")) <= Decimal("0.01")
    assert abs(got["CC003"] - pool * Decimal("0.50")) <= Decimal("0.01")


@pytest.mark.parametrize(("split", "message"), [
    ({"CC001": 60, "CC002": 30, "CC003": 20}, "add up to 100 %, got 110"),
    ({"CC001": 50, "CC002": 30}, "add up to 100 %, got 80"),           # a missing target counts as 0 %
    ({"CC001": 50, "CC002": 30, "CC009": 20}, "its own targets; unknown \\['CC009'\\]"),
    ({"CC001": 120, "CC002": -40, "CC003": 20}, "between 0 and 100 %"),
    ({"CC001": "half", "CC002": 30, "CC003": 20}, "not a number"),
])
def test_fixed_split_validation(split: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        overrides.apply(_with_fixed_overhead(), splits={"it_overhead": split})


def test_split_and_weights_go_only_to_their_kind_of_step() -> None:
    rs = model.load(DEMO_RULES)
    with pytest.raises(InputError, match="not fixed"):
        overrides.apply(rs, splits={"it_overhead": {"CC001": 100}})
    with pytest.raises(InputError, match="not weighted"):
        overrides.apply(rs, weights={"network": {"bandwidth_gb": 1.0}})
    with pytest.raises(InputError, match="not all zero"):
        overrides.apply(rs, weights={"it_overhead": {"headcount": 0.0, "revenue": 0.0}})
