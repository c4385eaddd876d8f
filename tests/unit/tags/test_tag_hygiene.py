"""Tag hygiene per month and provider agrees with `tags.coverage` and partitions the month's effective cost."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest

from engine.tags import hygiene as tag_hygiene
from engine.tags import normalise as tags
from engine.tags.normalise import TagStandard


@pytest.fixture
def lines(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    con.execute("INSERT INTO org_unit (unit_id, name, kind, parent_id) VALUES ('BU1', 'Unit', 'business_unit', NULL),"
                " ('CC1', 'One', 'cost_center', 'BU1')")
    rows = [  # provider, cost, tags
        ("AWS", 60, "MAP {'cost_center': 'CC1', 'application': 'A', 'environment': 'prod'}"),   # compliant
        ("AWS", 10, "NULL"),                                                                   # untagged
        ("AWS", 5, "MAP {'cost_center': 'cc-1 ', 'application': 'A', 'environment': 'prod'}"),  # mis-tagged
        ("Microsoft", 20, "MAP {'cost_center': 'cc1', 'environment': 'qa'}"),                  # incomplete
        ("Microsoft", 5, "MAP {'name': 'x'}"),                                                 # untagged
    ]
    for provider, cost, tag_map in rows:
        con.execute("INSERT INTO cost_line (billing_period, charge_period_start, charge_period_end, provider, "
                    "effective_cost, billed_cost, billing_currency, batch_id, service_name, tags) VALUES ('2026-01', "
                    f"'2026-01-01', '2026-02-01', ?, ?, ?, 'USD', 'b', 'Compute', {tag_map})", [provider, cost, cost])
    return con


def test_statuses_partition_the_month(lines: duckdb.DuckDBPyConnection) -> None:
    std = tag_hygiene.standard_for(lines)
    assert std.allowed["cost_center"] == ("CC1",)
    grid = tag_hygiene.by_period_provider(lines, std)
    got = {r["provider"]: (r["untagged"], r["mis_tagged"], r["incomplete"], r["compliant"]) for r in grid.to_dicts()}
    assert got == {"AWS": (10.0, 5.0, 0.0, 60.0), "Microsoft": (5.0, 0.0, 20.0, 0.0)}
    month = tag_hygiene.by_period(grid).row(0, named=True)
    assert month["total"] == 100.0 and month["compliant_pct"] == 60.0 and month["untagged_pct"] == 15.0
    assert tags.coverage(lines, std, "2026-01").compliant_pct == pytest.approx(month["compliant_pct"])
    trend = tag_hygiene.coverage_trend(grid)
    assert trend.filter(pl.col("provider") == "All providers")["coverage_pct"].to_list() == [60.0]


def test_offenders_group_and_name_the_typed_values(lines: duckdb.DuckDBPyConnection) -> None:
    std = tag_hygiene.standard_for(lines)
    top = tag_hygiene.offenders(lines, std, "2026-01", "account")
    assert top.select("provider", "status", "effective_cost", "tag_values").rows() == [
        ("AWS", "untagged", 10.0, None), ("AWS", "mis-tagged", 5.0, "cc-1 "), ("Microsoft", "untagged", 5.0, None)]
    assert tag_hygiene.offenders(lines, std, "2026-01", "service", limit=1).height == 1


def test_without_org_units_any_cost_centre_value_counts(con: duckdb.DuckDBPyConnection) -> None:
    std = tag_hygiene.standard_for(con)
    assert "cost_center" not in std.allowed
    assert "mis-tagged" not in tag_hygiene.status_sql(std)
    assert tag_hygiene.describe(TagStandard(required=())).startswith("Required tags: none")
