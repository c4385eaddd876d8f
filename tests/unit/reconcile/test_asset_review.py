"""Register checks of the reconciliation page: duplicate serials and retired assets still assigned."""

from __future__ import annotations

from datetime import date

import duckdb
import polars as pl

from engine.reconcile import asset_review


def _assets(rows: list[dict[str, object]]) -> pl.DataFrame:
    schema = {c: pl.String() for c in asset_review.ASSET_COLUMNS}
    return pl.DataFrame([{c: r.get(c) for c in schema} for r in rows], schema=schema)


def test_duplicate_serials_need_a_second_tag_or_model() -> None:
    frame = _assets([
        {"asset_id": "a1", "source": "demo", "serial": "ab 12", "asset_tag": "IT-1", "model": "R760"},
        {"asset_id": "a2", "source": "demo", "serial": "AB12", "asset_tag": "IT-2", "model": "R760"},  # duplicate
        {"asset_id": "s1", "source": "servicenow", "serial": "X9", "asset_tag": "AT-1", "model": "M"},  # alm asset
        {"asset_id": "s2", "source": "servicenow", "serial": "X9", "asset_tag": "AT-1", "model": "M"},  # and its CI
        {"asset_id": "j1", "source": "jamf", "serial": "AB12", "asset_tag": "IT-1", "model": "R760"},  # other source
        {"asset_id": "z1", "source": "demo", "serial": "0000000", "asset_tag": "IT-8", "model": "A"},   # no serial
        {"asset_id": "z2", "source": "demo", "serial": "0000000", "asset_tag": "IT-9", "model": "B"},
    ])
    dup = asset_review.duplicate_serials(frame)
    assert dup.select("serial_key", "asset_id").rows() == [("AB12", "a1"), ("AB12", "a2")]
    assert asset_review.duplicate_serials(frame.clear()).is_empty()


def test_retired_still_assigned_ignores_blank_owners() -> None:
    frame = _assets([
        {"asset_id": "r1", "lifecycle_status": "retired", "owner": "ann"},
        {"asset_id": "r2", "lifecycle_status": "retired", "owner": "  "},
        {"asset_id": "r3", "lifecycle_status": "disposed", "owner": "bob"},
        {"asset_id": "u1", "lifecycle_status": "in_use", "owner": "cid"},
    ])
    assert asset_review.retired_still_assigned(frame)["asset_id"].to_list() == ["r1", "r3"]


def test_without_a_discovery_side_matching_counts_are_unknown(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("INSERT INTO asset (asset_id, class, serial, source, lifecycle_status, owner) VALUES "
                "('demo:1', 'laptop', 'S1', 'demo', 'retired', 'ann')")
    rev = asset_review.review(con, (), ("servicenow",))
    assert not rev.matching and rev.count("ghosts") is None and rev.count("retired_assigned") == 1
    assert asset_review.default_sides(["demo", "jamf", "servicenow"]) == (["jamf"], ["servicenow"])
    assert asset_review.as_of_default(con) == date.today()
    con.execute("INSERT INTO cost_line (billing_period, charge_period_start, charge_period_end, provider, "
                "effective_cost, billed_cost, billing_currency, batch_id) "
                "VALUES ('2026-12', '2026-12-01', '2027-01-01', 'AWS', 1, 1, 'USD', 'b')")
    assert asset_review.as_of_default(con) == date(2026, 12, 31)


def test_dq_config_adds_the_server_application_rule() -> None:
    cfg = asset_review.dq_config()
    assert cfg.attribute_rules[-1].name == "server serves an application"
    assert asset_review.parse_dq_config(cfg.model_dump_json()) == cfg
