"""The overview's one-pass figures equal the per-figure functions (which read every line) exactly — from the
store's rollup and from the lines when the rollup is not current; for the whole organisation, an executive and an
app owner scoped to their own cost centres; for a regular month, the first month (no neighbour), a stray month and
a month with no data."""

from __future__ import annotations

import duckdb
import pytest
from polars.testing import assert_frame_equal

from engine.access.users import User, get_user
from engine.ingest.contract.frames import stored_columns
from engine.insights import overview
from engine.insights.overview_figures import figures
from engine.store import rollup


def _user(con: duckdb.DuckDBPyConnection, name: str) -> User:
    user = get_user(con, name)
    assert user is not None
    return user


@pytest.mark.parametrize("from_rollup", [True, False])
@pytest.mark.parametrize("username", ["fiona", "eve", "omar"])
def test_figures_equal_the_per_figure_functions(demo_con: duckdb.DuckDBPyConnection, username: str,
                                                from_rollup: bool) -> None:
    cols = ", ".join(stored_columns("cost_line"))
    # a stray month (a few late lines, one without a service name) beside the demo's
    demo_con.execute(f"INSERT INTO cost_line ({cols}) SELECT * REPLACE ('2024-09' AS billing_period) "
                     f"FROM (SELECT {cols} FROM cost_line WHERE billing_period = '2026-10' LIMIT 7)")
    demo_con.execute("UPDATE cost_line SET service_name = NULL WHERE billing_period = '2024-09' AND resource_id IN "
                     "(SELECT min(resource_id) FROM cost_line WHERE billing_period = '2024-09')")
    assert not rollup.current(demo_con)          # lines written by SQL, around the engine
    if from_rollup:
        rollup.rebuild(demo_con)
        assert rollup.lines_source(demo_con) == rollup.AS_LINES
    user = _user(demo_con, username)
    periods = overview.periods(demo_con)
    assert len(periods) > 6
    for period in [periods[0], periods[1], periods[-1], "2024-09", "2030-01"]:
        f = figures(demo_con, user, period)
        assert f.kpis == overview.kpis(demo_con, user, period), period
        if period == periods[-1]:
            assert f.movers_bu.height >= 1 and f.movers_service.height == 5 and f.kpis.previous_total
        assert_frame_equal(f.movers_bu, overview.top_movers(demo_con, user, period, "business_unit"))
        assert_frame_equal(f.movers_service, overview.top_movers(demo_con, user, period, "service_name"))
    assert_frame_equal(f.spend, overview.spend_by_month(demo_con, user, "business_unit"))
    assert_frame_equal(f.untagged, overview.untagged_share_by_month(demo_con, user))
    assert f.spend.height > 10
    scoped_months = f.untagged.height
    assert scoped_months == len(periods) if user.cost_centers is None else 10 <= scoped_months <= len(periods)


def test_an_app_owner_sees_a_part_of_the_whole(demo_con: duckdb.DuckDBPyConnection) -> None:
    assert rollup.current(demo_con)              # the demo build keeps it
    assert overview.period_health(demo_con) == _health_from_lines(demo_con)
    last = overview.periods(demo_con)[-1]
    everyone = figures(demo_con, _user(demo_con, "fiona"), last)
    owner = figures(demo_con, _user(demo_con, "omar"), last)
    assert 0 < owner.kpis.total < everyone.kpis.total
    assert owner.spend["cost"].sum() < everyone.spend["cost"].sum()


def _health_from_lines(con: duckdb.DuckDBPyConnection) -> dict[str, overview.PeriodHealth]:
    con.execute("INSERT INTO line_rollup (batch_id, lines) VALUES ('nothing', 1)")   # not current: the lines path
    try:
        assert not rollup.current(con)
        return overview.period_health(con)
    finally:
        con.execute("DELETE FROM line_rollup WHERE batch_id = 'nothing'")
