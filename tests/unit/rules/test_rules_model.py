"""The rule model refuses what cannot be run, and round-trips through YAML with a stable hash."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from engine.rules import model
from engine.rules.filters import compile_all, compile_one

ROOT = Path(__file__).resolve().parents[3]


def _rs(*steps: dict[str, object], **extra: object) -> model.RuleSet:
    return model.from_data({"name": "t", "steps": list(steps)} | extra)


def test_fixed_split_must_add_up_to_100() -> None:
    with pytest.raises(ValidationError, match="add up to 100 %, got 99.9"):
        _rs({"id": "a", "name": "A", "method": {"kind": "fixed", "split": {"X": 60, "Y": 39.9}}})


def test_unknown_field_and_unknown_filter_field_are_refused() -> None:
    with pytest.raises(ValidationError, match="Extra inputs"):
        _rs({"id": "a", "name": "A", "method": {"kind": "even"}, "colour": "red"})
    with pytest.raises(ValidationError, match="unknown filter field"):
        _rs({"id": "a", "name": "A", "source": {"filters": [{"field": "1=1; DROP TABLE x", "value": 1}]},
             "method": {"kind": "even"}})


def test_cost_may_only_flow_forward_and_direct_steps_receive_nothing() -> None:
    with pytest.raises(ValidationError, match="later step"):
        _rs({"id": "a", "name": "A", "method": {"kind": "even"}},
            {"id": "b", "name": "B", "method": {"kind": "even"}, "unallocated": "step:a"})
    with pytest.raises(ValidationError, match="direct step"):
        _rs({"id": "a", "name": "A", "method": {"kind": "fixed", "split": {"step:b": 100}}},
            {"id": "b", "name": "B", "method": {"kind": "direct"}})
    with pytest.raises(ValidationError, match="cannot be reciprocal"):
        _rs({"id": "a", "name": "A", "method": {"kind": "direct"}, "reciprocal_group": "g"})


def test_yaml_round_trip_keeps_the_hash() -> None:
    rs = model.load(ROOT / "engine" / "rules" / "rulesets" / "demo_default.yaml")
    again = model.from_text(rs.to_yaml())
    assert again == rs and again.body_hash() == rs.body_hash() and len(rs.body_hash()) == 64


def test_filters_compile_to_placeholders_never_to_user_text() -> None:
    sql, params = compile_one("service_name", "eq", "x' OR '1'='1")
    assert "OR '1'" not in sql and params == ["x' OR '1'='1"]
    sql, params = compile_all([("tag:team", "in", ["a", "b"]), ("tag_cost_center", "is_null", None)])
    assert sql == "((element_at(l.tags, ?)[1] IN (?, ?)) AND (l.\"tag_cost_center\" IS NULL))"
    assert params == ["team", "a", "b"]
    assert compile_all([]) == ("TRUE", [])
