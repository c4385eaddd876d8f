"""Mapping profiles: versioned and audited saves, access in the engine, and what a cost-line mapping loads
(derived billing period, any number of tags normalised like other connectors, explicit date formats, the billing
checks) — down to the OCI cost report through a saved YAML profile, which must total the same cents as the raw file
and as the dedicated oci_cost connector."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import pytest

from engine import store
from engine.access.users import User
from engine.errors import AccessDenied, InputError, NotFound
from engine.ingest.contract.mapping import MappingProfile
from engine.ingest.file_head import head_of_upload
from engine.ingest.mapping_profiles import (
    delete_profile,
    ingest_options,
    list_profiles,
    load_profile,
    parse_profile,
    profile_versions,
    save_profile,
)
from engine.ingest.mapping_yaml import from_yaml, to_yaml
from engine.ingest.pipeline import ingest_file
from tests.conftest import SAMPLES

FIONA = User("fiona", "Fiona", "finops", None)
ADMIN = User("admin", "Admin", "admin", None)
EVE = User("eve", "Eve", "executive", None)
OCI_YAML = Path(__file__).resolve().parents[2] / "fixtures" / "mappings" / "oci.yaml"
OCI_SAMPLE = SAMPLES / "oci_cost_report_sample.csv"

INVOICES = MappingProfile(
    name="saas invoices", target_table="cost_line", billing_period_from="charge_period_start",
    columns={"charge_period_start": "Start", "charge_period_end": "End", "provider": "Vendor",
             "billed_cost": "Amount", "effective_cost": "Amount", "billing_currency": "Currency",
             "tag_cost_center": "Cost Centre"},
    tags={"App Name": "Product", "Env": "Stage", "Team": "Squad", "Ticket-Ref": "Ref"},
    date_formats=["%d.%m.%Y"],
)
INVOICE_CSV = (
    "Start,End,Vendor,Amount,Currency,Cost Centre,Product,Stage,Squad,Ref\n"
    "01.10.2026,01.11.2026,Datadog,1234.56,USD,CC-ENG,checkout,Production,payments,FIN-1\n"
    "2026-10-15,2026-10-16,Datadog,0.015,usd,CC-FIN,ledger,dev,,\n"
    "10/01/2026,10/02/2026,Datadog,10.00,USD,CC-FIN,ledger,dev,,\n"        # a slash date no format names
    "01.10.1926,01.11.1926,Datadog,10.00,USD,CC-FIN,ledger,dev,,\n"        # outside 2000–2100
    "01.10.2026,01.11.2026,Datadog,10.00,US$,CC-FIN,ledger,dev,,\n"        # not an ISO 4217 code
    "01.10.2026,01.11.2026,Datadog,ten,USD,CC-FIN,ledger,dev,,\n"          # not an amount
)


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[object, ...]]:
    return con.execute(sql).fetchall()


def test_each_change_is_a_version_unchanged_saves_add_nothing_and_every_save_is_audited(
        con: duckdb.DuckDBPyConnection) -> None:
    first = save_profile(con, INVOICES, user=FIONA, comment="first cut")
    again = save_profile(con, INVOICES, user=ADMIN, comment="same thing")
    changed = INVOICES.model_copy(update={"day_first": True})
    second = save_profile(con, changed, user=ADMIN, comment="UK dates")
    assert (first.version, first.changed, again.version, again.changed, second.version) == (1, True, 1, False, 2)
    versions = profile_versions(con, "saas invoices")
    assert [(v.version, v.saved_by, v.comment, v.deleted) for v in versions] == [
        (1, "fiona", "first cut", False), (2, "admin", "UK dates", False)]
    assert load_profile(con, "saas invoices") == changed                   # the newest is in force
    assert load_profile(con, "saas invoices", version=1) == INVOICES        # earlier ones stay readable
    assert ingest_options(con, "saas invoices", 1)["mapping"]["day_first"] is False
    events = _rows(con, "SELECT actor, action, entity_id, detail FROM audit_event "
                        "WHERE action LIKE 'mapping_profile.%' ORDER BY seq")
    assert [(a, b, c) for a, b, c, _ in events] == [("fiona", "mapping_profile.save", "saas invoices"),
                                                    ("admin", "mapping_profile.save", "saas invoices")]
    assert '"version":2' in str(events[1][3]).replace(" ", "")

    assert delete_profile(con, "saas invoices", user=FIONA, comment="replaced by FOCUS") is True
    assert list_profiles(con) == []
    with pytest.raises(NotFound, match="no mapping profile named 'saas invoices'"):
        load_profile(con, "saas invoices")
    assert load_profile(con, "saas invoices", version=2) == changed         # history survives the delete
    assert save_profile(con, INVOICES, user=FIONA).version == 4             # numbering goes on after a tombstone
    assert _rows(con, "SELECT count(*) FROM audit_event WHERE action = 'mapping_profile.delete'") == [(1,)]


def test_only_finops_and_admin_may_save_checked_in_the_engine(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(AccessDenied, match=r"eve \(executive\) cannot save a column mapping"):
        save_profile(con, INVOICES, user=EVE)
    with pytest.raises(AccessDenied, match="not signed in"):
        save_profile(con, INVOICES, user="nobody")          # a name is looked up in the store: unknown = nobody
    con.execute("INSERT INTO app_user (username, display_name, role, password_hash) VALUES "
                "('eve', 'Eve', 'executive', 'x'), ('fiona', 'Fiona', 'finops', 'x')")
    with pytest.raises(AccessDenied):
        save_profile(con, INVOICES, user="eve")
    save_profile(con, INVOICES, user="fiona")
    with pytest.raises(AccessDenied):
        delete_profile(con, "saas invoices", user=EVE)
    assert list_profiles(con) == ["saas invoices"]
    assert _rows(con, "SELECT count(*) FROM mapping_profile_version") == [(1,)]


def test_derived_period_many_tags_explicit_dates_and_billing_checks(con: duckdb.DuckDBPyConnection,
                                                                     tmp_path: Path) -> None:
    f = tmp_path / "invoices.csv"
    f.write_text(INVOICE_CSV)
    res = ingest_file(con, f, kind="generic", options={"mapping": INVOICES.model_dump(mode="json")},
                      isolate=False)
    assert (res.status, res.rows_read, res.rows_loaded, res.rows_quarantined) == ("loaded", 6, 2, 4)
    lines = _rows(con, "SELECT billing_period, charge_period_start, billed_cost, billing_currency, tag_cost_center, "
                       "tag_application, tag_environment, tags FROM cost_line ORDER BY charge_period_start")
    assert lines[0][:7] == ("2026-10", datetime(2026, 10, 1), Decimal("1234.56"), "USD", "CC-ENG", "checkout",
                            "Production")
    assert lines[0][7] == {"cost_center": "CC-ENG", "application": "checkout", "environment": "Production",
                           "team": "payments", "ticket_ref": "FIN-1"}
    assert lines[1][:7] == ("2026-10", datetime(2026, 10, 15), Decimal("0.015"), "USD", "CC-FIN", "ledger", "dev")
    reasons = dict(_rows(con, "SELECT row_number, reason FROM quarantine_row ORDER BY row_number"))
    assert reasons[3].startswith("expected a date/time in ISO 8601 or %d.%m.%Y, got 10/01/2026")
    assert reasons[4].startswith("expected a date in the years 2000–2100")
    assert reasons[5] == "expected an ISO 4217 currency code, got US$"
    assert reasons[6] == "expected a decimal number, got ten"


def test_profile_rules() -> None:
    with pytest.raises(InputError, match="two-digit year.*four-digit year"):
        parse_profile({**INVOICES.model_dump(), "date_formats": ["%d.%m.%y"]})
    with pytest.raises(InputError, match="one place"):
        parse_profile({**INVOICES.model_dump(), "constants": {"billing_period": "2026-10"}})
    with pytest.raises(InputError, match="'App Name' and 'application'|both the tag 'application'"):
        parse_profile({**INVOICES.model_dump(), "tags": {"App Name": "Product", "application": "Squad"}})
    with pytest.raises(InputError, match="extra|not permitted|Extra"):
        parse_profile({**INVOICES.model_dump(), "colums": {}})
    assert from_yaml(to_yaml(INVOICES)) == INVOICES


def _raw_oci_totals() -> tuple[int, Decimal, Decimal, int]:
    """Line count, the exact sum, the sum of each line at the store's 10 decimals (DECIMAL(38,10)), lines with a tag."""
    with OCI_SAMPLE.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    costs = [Decimal(r["cost/myCost"]) for r in rows]
    stored = sum((c.quantize(Decimal("1e-10"), ROUND_HALF_UP) for c in costs), Decimal(0))
    tagged = sum(1 for r in rows if any(v.strip() for k, v in r.items() if k.startswith("tags/")))
    return len(costs), sum(costs, Decimal(0)), stored, tagged


def test_oci_report_through_a_saved_yaml_profile_matches_the_raw_file_and_the_oci_connector(
        con: duckdb.DuckDBPyConnection) -> None:
    profile = from_yaml(OCI_YAML.read_text(), OCI_YAML.name)
    save_profile(con, profile, user=FIONA, comment="OCI without code")
    res = ingest_file(con, OCI_SAMPLE, kind="generic", options=ingest_options(con, profile.name), isolate=False)
    n, exact, stored, tagged = _raw_oci_totals()
    assert (res.status, res.rows_loaded, res.rows_quarantined) == ("loaded", n, 0)
    mapped = _rows(con, f"SELECT count(*), sum(billed_cost), sum(effective_cost), min(billing_period), "
                        f"count(tags) FROM cost_line WHERE batch_id = '{res.batch_id}'")[0]
    assert mapped[:3] == (n, stored, stored)                      # every line as the raw file says, at 10 decimals
    assert round(mapped[1], 2) == round(exact, 2) == Decimal("2.52")  # and the total to the cent
    assert mapped[3:] == ("2023-11", tagged)                       # period derived; lines carrying any tag
    con.execute("DELETE FROM cost_line")
    con.execute("DELETE FROM ingest_batch")
    dedicated = ingest_file(con, OCI_SAMPLE, kind="oci_cost", isolate=False)
    assert dedicated.rows_loaded == n
    same = _rows(con, f"SELECT count(*), sum(billed_cost), sum(effective_cost), min(billing_period), count(tags) "
                      f"FROM cost_line WHERE batch_id = '{dedicated.batch_id}'")[0]
    assert same == mapped


def test_profiles_saved_before_versioning_become_version_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    every = store.migrations()
    monkeypatch.setattr(store, "migrations", lambda: [m for m in every if m[0] < 27])
    con = store.connect(tmp_path / "old.duckdb")
    old_body = {"name": "laptops", "target_table": "asset", "columns": {"serial": "S/N"},   # the 0005-era shape
                "constants": {"class": "laptop"}, "source": "generic", "sheet": None, "day_first": False}
    con.execute("INSERT INTO mapping_profile (name, target_table, body, created_by) VALUES (?, ?, ?, 'alice')",
                ["laptops", "asset", json.dumps(old_body)])
    monkeypatch.setattr(store, "migrations", lambda: every)
    assert 27 in store.migrate(con)
    assert [(v.version, v.saved_by) for v in profile_versions(con, "laptops")] == [(1, "alice")]
    same = load_profile(con, "laptops", version=1)
    assert (same.columns, same.tags, same.date_formats) == ({"serial": "S/N"}, {}, [])
    assert save_profile(con, same, user=FIONA).changed is False            # the same profile: nothing new
    con.close()


def test_an_xlsx_bill_and_its_head_for_the_editor(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["Start", "End", "Vendor", "Amount", "Currency", "Cost Centre", "Product", "Stage", "Squad", "Ref"])
    ws.append(["31.10.2026", "01.11.2026", "Datadog", 99.99, "USD", "CC-ENG", "checkout", "prod", "", ""])
    ws.append([datetime(2026, 10, 2), datetime(2026, 10, 3), "Datadog", "0.01", "USD", "", "", "", "", ""])
    f = tmp_path / "bill.xlsx"
    wb.save(f)
    head = head_of_upload(f.read_bytes(), "bill.xlsx", n=1)
    assert head.columns[:4] == ["Start", "End", "Vendor", "Amount"]
    assert head.rows.row(0)[:4] == ("31.10.2026", "01.11.2026", "Datadog", "99.99")
    res = ingest_file(con, f, kind="generic", options={"mapping": INVOICES.model_dump(mode="json")}, isolate=False)
    assert (res.status, res.rows_loaded, res.rows_quarantined) == ("loaded", 2, 0)
    assert _rows(con, "SELECT billing_period, sum(billed_cost), max(tag_environment) FROM cost_line GROUP BY 1") == [
        ("2026-10", Decimal("100.00"), "prod")]
