"""Malformed variants of every inventory/driver/licence fixture: each one parses or is refused with a FileRefused
message — never another exception — and no connector of ours claims it by mistake when it is garbage."""

from __future__ import annotations

import gzip
import random
from collections.abc import Iterator
from pathlib import Path

from engine.ingest import registry
from engine.ingest.contract.connector import FileRefused, ParseResult
from tests.unit.inventory_helpers import FIXTURES

OWN = {"sccm_hardware_inventory.csv": "sccm", "jamf_advanced_search.csv": "jamf",
       "jamf_computers_inventory.json": "jamf", "aws_config_snapshot.json": "aws_config",
       "aws_config_advanced_query.csv": "aws_config", "servicenow_alm_hardware.csv": "servicenow",
       "servicenow_cmdb_ci.json": "servicenow", "snipeit_hardware_export.csv": "snipeit",
       "opencost_allocation_namespace.json": "opencost", "m365_subscribed_skus.json": "m365",
       "m365_users.json": "m365", "hr_headcount_revenue.csv": "hr_drivers", "hr_drivers_long.xlsx": "hr_drivers",
       "InteractiveSignIns_2026-10-01_2026-11-03.csv": "saas_signin"}


def _mutations(data: bytes, rnd: random.Random) -> Iterator[tuple[str, bytes]]:
    yield "truncated", data[: len(data) // 2]
    yield "tiny", data[: max(1, len(data) // 9)]
    yield "empty", b""
    yield "header_only", data.split(b"\n")[0] + b"\n"
    yield "latin1", data.replace(b"a", b"\xe9", 3)
    yield "utf16", data.decode("utf-8", "replace").encode("utf-16")
    yield "nul", data[:100] + b"\x00" * 50 + data[100:]
    yield "formula", data.replace(b"alice", b"=cmd|' /C calc'!A0")
    yield "numbers_as_text", data.replace(b"1", b"one")
    yield "renamed", data.replace(b"Serial", b"Seriall").replace(b"serial", b"seriall")
    yield "shuffled", b"\n".join(sorted(data.split(b"\n"), key=lambda _: rnd.random()))
    yield "random", bytes(rnd.getrandbits(8) for _ in range(400))
    yield "wrong_json", b'{"results": [null, 1], "data": [null], "value": [null], "configurationItems": [null]}'
    yield "deep_json", b"[" * 5000 + b"]" * 5000
    yield "zip_garbage", b"PK\x03\x04" + bytes(200)


def _cases() -> list[tuple[str, str, str, bytes]]:
    rnd = random.Random(20261128)
    out = []
    for name, kind in sorted(OWN.items()):
        path = next(FIXTURES.rglob(name))
        for label, data in _mutations(path.read_bytes(), rnd):
            out.append((name, kind, label, data))
    flow = next((FIXTURES / "flow_logs").glob("*.gz"))
    for label, data in _mutations(gzip.decompress(flow.read_bytes()), rnd):
        out.append((flow.name, "flow_logs", label, data))
    return out


CASES = _cases()


def test_enough_cases() -> None:
    assert len(CASES) >= 200


def test_malformed_files_parse_or_refuse_cleanly(tmp_path: Path) -> None:
    crashes = []
    for name, kind, label, data in CASES:
        p = tmp_path / f"{label}{Path(name).suffix}"
        p.write_bytes(data)
        conn = registry.by_name(kind)
        try:
            if data:
                conn.detect(registry.sniff(p))
            res = conn.parse(p)
            assert isinstance(res, ParseResult)
            assert res.frame.height + res.quarantine.height >= 0
        except FileRefused as exc:
            assert p.name in str(exc)
        except Exception as exc:  # the point of the test: nothing else may escape
            crashes.append(f"{name}/{label}/{kind}: {type(exc).__name__}: {exc}")
    assert crashes == []
