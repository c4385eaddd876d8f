"""Readable rule diffs: crafted pairs of rule sets give exactly the sentences an approver reads."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from engine.allocation.pools import ExceptionTreatment, PooledException
from engine.rules import diff, model

DEMO = Path(__file__).resolve().parents[3] / "engine" / "rules" / "rulesets" / "demo_default.yaml"


def _base() -> dict[str, Any]:
    return {"name": "it", "steps": [
        {"id": "network", "name": "Network", "source": {"filters": [{"field": "tag_application", "value": "NET"}]},
         "method": {"kind": "driver", "driver": "bandwidth_gb"}, "target_kind": "application"},
        {"id": "platform", "name": "Shared platform",
         "source": {"filters": [{"field": "tag_application", "value": "K8S"}]},
         "method": {"kind": "driver", "driver": "vcpu_hours"}, "target_kind": "application"},
        {"id": "overhead", "name": "IT overhead", "method": {"kind": "weighted",
                                                             "weights": {"headcount": 0.4, "revenue": 0.6}}},
        {"id": "split", "name": "Fixed split", "method": {"kind": "fixed", "split": {"CC1": 60, "CC2": 40}}},
    ]}


def _changed(edit: Any) -> list[str]:
    old = _base()
    new = _base()
    edit(new)
    return diff.rule_set_changes(model.from_data(old), model.from_data(new))


def test_identical_rule_sets_have_no_changes() -> None:
    assert _changed(lambda d: None) == []


def test_driver_weight_and_split_changes() -> None:
    def edit(d: dict[str, Any]) -> None:
        d["steps"][1]["method"]["driver"] = "memory_gb_hours"
        d["steps"][2]["method"]["weights"] = {"headcount": 0.5, "revenue": 0.5}
        d["steps"][3]["method"]["split"] = {"CC1": 50, "CC2": 40, "CC3": 10}

    assert _changed(edit) == [
        "step 2 'Shared platform' driver changed from vcpu_hours to memory_gb_hours",
        "step 3 'IT overhead' weight of headcount 0.4 → 0.5",
        "step 3 'IT overhead' weight of revenue 0.6 → 0.5",
        "step 4 'Fixed split' split of CC1 60 % → 50 %",
        "step 4 'Fixed split' split of CC3 10 % added",
    ]


def test_weight_added_and_removed_and_method_kind_changed() -> None:
    def edit(d: dict[str, Any]) -> None:
        d["steps"][2]["method"]["weights"] = {"headcount": 0.4, "seats": 0.6}
        d["steps"][0]["method"] = {"kind": "even"}

    assert _changed(edit) == [
        "step 1 'Network' method changed from driver bandwidth_gb to even",
        "step 3 'IT overhead' weight of revenue removed (was 0.6)",
        "step 3 'IT overhead' weight of seats 0.6 added",
    ]


def test_steps_added_removed_renamed_and_moved() -> None:
    def edit(d: dict[str, Any]) -> None:
        steps = d["steps"]
        steps[0]["name"] = "Enterprise network"
        d["steps"] = [steps[1], steps[0], steps[2],
                      {"id": "backup", "name": "Backup", "source": {"filters": [{"field": "tag_application",
                                                                                 "value": "BKP"}]},
                       "method": {"kind": "driver", "driver": "storage_gb_month"}, "target_kind": "application"}]

    assert _changed(edit) == [
        "step 1 'Shared platform' moved from position 2 to 1",
        "step 2 renamed from 'Network' to 'Enterprise network'",
        "step 4 'Backup' added: claims cost_lines: tag_application = BKP; driver storage_gb_month to application",
        "step 4 'Fixed split' removed",
    ]


def test_filters_targets_fallback_and_policies() -> None:
    def edit(d: dict[str, Any]) -> None:
        d["steps"][0]["source"]["filters"] = [{"field": "tag_application", "value": "NETWORK"},
                                              {"field": "charge_category", "value": "Usage"}]
        d["steps"][0]["reciprocal_group"] = "net_sec"
        d["steps"][1]["method"]["targets"] = ["APP1", "APP2"]
        d["steps"][2]["unallocated"] = "step:split"
        d["steps"][2]["note"] = "agreed in the workshop"
        d["mode"] = "direct"

    assert _changed(edit) == [
        "mode step_down → direct",
        "step 1 'Network' filter changed from tag_application = NET to tag_application = NETWORK",
        "step 1 'Network' filter added: charge_category = Usage",
        "step 1 'Network' reciprocal group changed from none to net_sec",
        "step 2 'Shared platform' targets changed from every unit to APP1, APP2",
        "step 3 'IT overhead' unallocated changed from post to step:split",
        "step 3 'IT overhead' note changed to 'agreed in the workshop'",
    ]


def test_direct_fallback_and_target_kind() -> None:
    old = model.from_data({"name": "d", "steps": [{"id": "tagged", "name": "Tagged", "method": {"kind": "direct"}}]})
    new = model.from_data({"name": "d", "steps": [{"id": "tagged", "name": "Tagged", "target_kind": "application",
                                                   "method": {"kind": "direct", "fallback": ["tag", "cmdb"]}}]})
    assert diff.rule_set_changes(old, new) == [
        "step 1 'Tagged' fallback changed from tag → account_owner → cmdb to tag → cmdb",
        "step 1 'Tagged' target kind changed from cost_center to application",
    ]


def _exception(eid: str, value: str, split: dict[str, int]) -> PooledException:
    treatment = ExceptionTreatment(method="fixed", split={k: Decimal(v) for k, v in split.items()})
    return PooledException(eid, "resource_id", value, "shared load balancer", treatment)


def test_version_changes_name_effective_month_and_exceptions() -> None:
    rs = model.from_data(_base())
    changes = diff.version_changes(
        rs, rs, old_effective="2026-07", new_effective="2026-11",
        old_exceptions=[_exception("EX-OLD", "db-1", {"CC1": 100}), _exception("EX-LB", "lb-1", {"CC1": 50,
                                                                                                  "CC2": 50})],
        new_exceptions=[_exception("EX-LB", "lb-1", {"CC1": 60, "CC2": 40}),
                        _exception("EX-NEW", "lb-2", {"CC2": 100})])
    assert changes == [
        "effective_from 2026-07 → 2026-11",
        "exception EX-LB changed from resource_id = lb-1, fixed split CC1 50 %, CC2 50 % to resource_id = lb-1,"
        " fixed split CC1 60 %, CC2 40 %",
        "exception EX-NEW added: resource_id = lb-2, fixed split CC2 100 %",
        "exception EX-OLD removed",
    ]


def test_a_first_version_lists_every_step_as_added() -> None:
    demo = model.load(DEMO)
    changes = diff.version_changes(None, demo)
    assert len(changes) == len(demo.steps)
    assert changes[0] == ("step 1 'Enterprise network' added: claims cost_lines: tag_application = SHR-NET;"
                          " driver bandwidth_gb to application")
    assert changes[8] == ("step 9 'Untagged spend by tagged spend' added: claims nothing of its own (receives what"
                          " earlier steps send it); allocated by what tagged posted to cost_center")


def test_the_workshop_change_on_the_demo_rule_set_reads_as_one_sentence() -> None:
    demo = model.load(DEMO)
    body = demo.body()
    body["steps"][4]["method"]["weights"] = {"headcount": 0.3, "revenue": 0.4}
    assert diff.rule_set_changes(demo, model.from_data(body)) == [
        "step 5 'IT service desk and architecture' weight of headcount 0.6 → 0.3"]
