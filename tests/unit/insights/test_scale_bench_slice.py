"""A small slice of bench/bench_scale.py in the suite: what the scale bench times must be the right work — the
overview's figures and the hand-written baseline agree on the month's spend, and the unsorted FOCUS file holds the
lines it says. Correctness only, no timing."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from bench import bench_allocation, bench_ingest, bench_scale
from engine import store
from engine.access.users import User
from engine.insights import overview
from engine.insights.attribution import LINE_OWNER, LINE_OWNER_JOINS


def test_overview_and_its_baseline_agree_on_the_month(tmp_path: Path) -> None:
    db = tmp_path / "alloc.duckdb"
    bench_allocation.generate(20_000, db)
    timed = bench_scale._overview_one("engine", db)
    assert timed["rows"] == 1
    con = store.connect(db, read_only=True)
    owners = con.sql(f"SELECT count(DISTINCT coalesce(cost_center_id, '-')) FROM (SELECT {LINE_OWNER} FROM cost_line l "
                     f"{LINE_OWNER_JOINS})").fetchall()[0][0]
    assert timed["forecast_rows"] == owners > 200     # the forecast panel ran: one row per owner of the month's lines
    k = overview.kpis(con, User("b", "B", "finops", None), bench_allocation.PERIOD)
    base = con.sql(f"SELECT sum(cost), sum(cost) FILTER (WHERE untagged) FROM ({bench_scale._OVERVIEW_BASELINE}) "
                   "WHERE billing_period = ?", params=[bench_allocation.PERIOD]).fetchall()[0]
    raw = con.sql("SELECT sum(effective_cost) FROM cost_line").fetchall()[0][0]
    con.close()
    assert k.total == base[0] == raw != Decimal(0)
    assert k.untagged == base[1] > 0        # the generator leaves 5 % untagged


@pytest.mark.skipif(not bench_ingest.SAMPLE.exists(), reason="needs ../shared/samples (the FOCUS 1.0 sample)")
def test_the_unsorted_focus_file_holds_n_distinct_lines(tmp_path: Path) -> None:
    path = bench_scale.generate_focus(2_500, tmp_path)
    con = duckdb.connect()
    # Id = sample id × copies + copy number: 2,500 lines are three copies of the 1,000-line sample (the last partial)
    n, ids, first = con.sql(f"SELECT count(*), count(DISTINCT Id), sum(BilledCost) FILTER (WHERE Id % 3 = 0) "
                            f"FROM read_parquet('{path}')").fetchall()[0]
    rows, total = con.sql(f"SELECT count(*), sum(CAST(BilledCost AS DOUBLE)) FROM read_csv('{bench_ingest.SAMPLE}', "
                          "nullstr = 'NULL', all_varchar = true)").fetchall()[0]
    assert rows == 1_000 and n == ids == 2_500
    assert first == pytest.approx(total, rel=1e-9)      # the first copy is the sample itself, costs unscaled
