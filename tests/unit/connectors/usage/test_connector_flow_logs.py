"""VPC Flow Logs v2 → data_transfer_gb per sender per month; sender resolved through flow-log-map.csv."""

from __future__ import annotations

import calendar
import datetime as dt
from pathlib import Path

from connectors.usage.flow_logs import CONNECTOR
from engine.ingest import registry
from tests.unit.inventory_helpers import FIXTURES, claims_no_billing_sample, count, detected, load, reasons

FILE = next((FIXTURES / "flow_logs").glob("*.log.gz"))


def test_detected_gz() -> None:
    assert detected(FILE) == "flow_logs"
    assert claims_no_billing_sample("flow_logs") == []


def test_bytes_by_sender_and_scope() -> None:
    res = CONNECTOR.parse(FILE)
    assert res.rows_read == 11
    got = {(r["period"], r["driver"], r["target_kind"], r["target_id"]): r["quantity"] for r in res.frame.to_dicts()}
    assert got == {
        ("2026-10", "data_transfer_gb", "application", "storefront"): 3.0,        # 2 GiB out + 1 GiB to reporting
        ("2026-10", "data_transfer_gb:internet", "application", "storefront"): 2.0,
        ("2026-10", "data_transfer_gb:inter_az", "application", "storefront"): 1.0,
        ("2026-10", "data_transfer_gb", "application", "reporting"): 0.5,
        ("2026-10", "data_transfer_gb", "cost_center", "CC-IT"): 1.0,             # CIDR 10.0.3.0/24
        ("2026-10", "data_transfer_gb:internet", "cost_center", "CC-IT"): 1.0,
        ("2026-10", "data_transfer_gb", "application", "eni-0123abcd4567ef890"): 1.0,   # unmapped sender
        ("2026-11", "data_transfer_gb", "application", "storefront"): 1.0,
        ("2026-11", "data_transfer_gb:internet", "application", "storefront"): 1.0,
    }
    assert reasons(res) == {11: "expected 14 space-separated fields, got 12"}
    assert res.warnings[0] == ("not counted: 1 nodata, 1 reject, 1 inbound, 1 duplicate records "
                               "(no data, rejected, inbound or seen at both ends)")


def test_headerless_cloudwatch_export_without_map(tmp_path: Path) -> None:
    t = calendar.timegm(dt.datetime(2026, 9, 30, 23, 59).timetuple())
    f = tmp_path / "export.txt"
    f.write_text(f"2 123456789012 eni-0aa 10.1.1.1 1.1.1.1 1 443 6 10 {2**30} {t} {t + 60} ACCEPT OK\n"
                 f"2 123456789012 eni-0aa 10.1.1.1 1.1.1.1 2 443 6 10 {2**29} {t} {t + 60} ACCEPT OK\n")
    assert CONNECTOR.detect(registry.sniff(f))
    res = CONNECTOR.parse(f)
    assert [(r["period"], r["driver"], r["target_id"], r["quantity"]) for r in res.frame.to_dicts()] == [
        ("2026-09", "data_transfer_gb", "eni-0aa", 1.5), ("2026-09", "data_transfer_gb:internet", "eni-0aa", 1.5)]


def test_pipeline(con) -> None:
    res = load(con, FILE)
    assert (res.rows_loaded, res.rows_quarantined) == (9, 1)
    assert count(con, "driver_value", "driver = 'data_transfer_gb'") == 5
