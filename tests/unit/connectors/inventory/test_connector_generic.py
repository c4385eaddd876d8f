"""Generic files through a saved mapping profile: never auto-detected; loadable by name through the pipeline."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from pydantic import ValidationError

from connectors.inventory.generic import CONNECTOR
from engine.access.users import User
from engine.ingest import registry
from engine.ingest.contract.connector import FileRefused
from engine.ingest.contract.mapping import MappingProfile
from engine.ingest.mapping_profiles import ingest_options, list_profiles, load_profile, save_profile
from engine.ingest.pipeline import ingest_file
from tests.unit.inventory_helpers import FIXTURES, count, reasons

FILE = FIXTURES / "procurement_register.csv"
PROFILE = MappingProfile(
    name="procurement register", target_table="asset", source="procurement", day_first=True,
    columns={"asset_tag": "Asset No", "serial": "S/N", "class": "Device Type", "vendor": "Make",
             "owner": "Assigned To", "cost_center_id": "Cost Centre", "location": "Site", "purchase_date": "Bought",
             "cost": "Price (GBP)", "useful_life_months": "Life (months)"},
    constants={"lifecycle_status": "in_use", "depreciation_method": "straight_line"},
)


def test_never_detected_and_last_in_line() -> None:
    assert not any(CONNECTOR.detect(registry.sniff(p)) for p in FIXTURES.rglob("*") if p.is_file())
    assert registry.all_connectors()[-1].name == "generic"
    with pytest.raises(FileRefused, match="column mapping"):
        CONNECTOR.parse(FILE)


def test_mapped_rows() -> None:
    res = CONNECTOR.parse(FILE, PROFILE)
    assert (res.rows_read, res.frame.height) == (5, 3)                 # UK dates read day-first
    assert reasons(res) == {4: "negative price -14250.00 in Price (GBP)",
                            5: "missing asset id, asset tag and serial"}
    first = res.frame.to_dicts()[0]
    assert (first["asset_id"], first["serial"], first["owner"], first["cost"], first["purchase_date"]) == (
        "procurement:PR-0001", "PF3ZZZZZ", "jdoe", Decimal("1210.00"), date(2024, 9, 1))
    assert (first["useful_life_months"], first["lifecycle_status"], first["source"]) == (48, "in_use", "procurement")
    assert res.frame["cost"].sum() == Decimal("2849.00")


def test_profile_validation() -> None:
    with pytest.raises(ValidationError, match="has no column"):
        MappingProfile(name="x", target_table="asset", columns={"colour": "C", "serial": "S"},
                       constants={"class": "laptop"})
    with pytest.raises(ValidationError, match="needs class"):
        MappingProfile(name="x", target_table="asset", columns={"serial": "S"})
    with pytest.raises(ValidationError, match="needs period"):
        MappingProfile(name="x", target_table="driver_value", columns={"driver": "D", "target_kind": "K",
                                                                       "target_id": "T", "quantity": "Q"})


def test_missing_source_column_refused(tmp_path: Path) -> None:
    f = tmp_path / "other.csv"
    f.write_text("Asset No,Type\nA1,laptop\n")
    with pytest.raises(FileRefused, match="'S/N'"):
        CONNECTOR.parse(f, PROFILE)


def test_parquet_driver_mapping(tmp_path: Path) -> None:
    f = tmp_path / "storage.parquet"
    pl.DataFrame({"month": ["2026-10", "2026-10"], "team": ["CC-ENG", "CC-FIN"], "gb": [120.5, 30.0]}).write_parquet(f)
    profile = MappingProfile(name="storage", target_table="driver_value",
                             columns={"period": "month", "target_id": "team", "quantity": "gb"},
                             constants={"driver": "storage_gb_month", "target_kind": "cost_center"})
    res = CONNECTOR.parse(f, profile)
    assert res.frame.select("driver", "target_id", "quantity").rows() == [
        ("storage_gb_month", "CC-ENG", 120.5), ("storage_gb_month", "CC-FIN", 30.0)]


def test_saved_profile_loads_by_name_through_pipeline(con) -> None:
    alice = User("alice", "Alice", "finops", None)                # saving needs edit_mappings (finops, admin)
    save_profile(con, PROFILE, user=alice)
    save_profile(con, PROFILE, user=alice)                        # unchanged: no second version
    assert list_profiles(con) == ["procurement register"]
    assert load_profile(con, "procurement register") == PROFILE
    with pytest.raises(KeyError, match="no mapping profile named 'nope'"):
        load_profile(con, "nope")
    res = ingest_file(con, FILE, kind="generic", options=ingest_options(con, "procurement register"),
                      user="alice", isolate=False)
    assert (res.status, res.target_table, res.rows_loaded, res.rows_quarantined) == ("loaded", "asset", 3, 2)
    assert count(con, "asset", "source = 'procurement'") == 3


def test_cost_line_mapping_typed_and_validated_by_pipeline(con, tmp_path: Path) -> None:
    f = tmp_path / "saas_invoices.csv"
    f.write_text("Month,Start,End,Vendor,Amount,Currency\n2026-10,2026-10-01,2026-11-01,Datadog,1234.56,USD\n"
                 "2026-10,2026-10-01,2026-11-01,Datadog,oops,USD\n")
    profile = MappingProfile(name="saas invoices", target_table="cost_line", columns={
        "billing_period": "Month", "charge_period_start": "Start", "charge_period_end": "End", "provider": "Vendor",
        "billed_cost": "Amount", "effective_cost": "Amount", "billing_currency": "Currency"})
    res = ingest_file(con, f, kind="generic", options={"mapping": profile.model_dump(mode="json")}, isolate=False)
    assert (res.rows_loaded, res.rows_quarantined) == (1, 1)
    assert con.sql("SELECT provider, effective_cost FROM cost_line").fetchall() == [("Datadog", Decimal("1234.56"))]
