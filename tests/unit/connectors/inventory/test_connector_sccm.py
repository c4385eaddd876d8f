"""SCCM/ConfigMgr hardware inventory: view columns → asset rows, junk serials and duplicates quarantined."""

from __future__ import annotations

from connectors.inventory.sccm import CONNECTOR, chassis_class
from engine.ingest.pipeline import ingest_file
from tests.unit.inventory_helpers import FIXTURES, claims_no_billing_sample, count, detected, load, reasons

FILE = FIXTURES / "sccm_hardware_inventory.csv"


def test_detected_as_sccm_and_claims_no_billing_file() -> None:
    assert detected(FILE) == "sccm"
    assert claims_no_billing_sample("sccm") == []


def test_rows_and_mapped_fields() -> None:
    res = CONNECTOR.parse(FILE)
    assert (res.rows_read, res.frame.height, res.quarantine.height) == (8, 6, 2)
    rows = {r["serial"]: r for r in res.frame.to_dicts()}
    lt = rows["5CG1234ABC"]
    assert (lt["asset_id"], lt["asset_tag"], lt["class"], lt["owner"], lt["location"], lt["vendor"]) == (
        "sccm:5CG1234ABC", "AT-10042", "laptop", "jsmith", "LON", "HP")
    assert rows["PF2ABCDE"]["asset_tag"] is None                      # 'No Asset Tag' is no tag
    assert rows["CZ20410ABC"]["class"] == "server"                    # chassis 23 rack mount
    assert rows["R52N90ABCD"]["class"] == "laptop"                    # chassis 30 tablet
    assert rows["MXL9876XYZ"]["class"] == "desktop"
    assert set(res.frame["lifecycle_status"]) == {"in_use"}


def test_quarantine_names_row_and_reason() -> None:
    q = reasons(CONNECTOR.parse(FILE))
    assert q == {6: "missing serial (got 'To be filled by O.E.M.')",
                 7: "duplicate SerialNumber0 '5CG1234ABC' (first at row 1)"}


def test_chassis_codes() -> None:
    assert [chassis_class(v) for v in ("10", "{9}", "3", "23", "2", "", "8,10")] == [
        "laptop", "laptop", "desktop", "server", "desktop", "desktop", "laptop"]


def test_loads_through_pipeline_once(con) -> None:
    res = load(con, FILE)
    assert (res.kind, res.target_table, res.rows_loaded, res.rows_quarantined) == ("sccm", "asset", 6, 2)
    assert count(con, "asset", "source = 'sccm'") == 6
    assert count(con, "quarantine_row") == 2
    again = load(con, FILE)
    assert again.status == "duplicate" and count(con, "asset") == 6
    assert con.sql("SELECT purchase_date FROM asset WHERE serial = '5CG1234ABC'").fetchall() == [(None,)]


def test_windows_encoded_export_needs_a_chosen_encoding(con, tmp_path) -> None:
    f = tmp_path / "sccm_ansi.csv"
    f.write_bytes(FILE.read_text().replace("CORP\\akhan", "CORP\\jürgen").encode("cp1252"))
    refused = ingest_file(con, f, user="tester", isolate=False)
    assert refused.status == "refused" and "choose its encoding" in refused.messages[0]
    res = ingest_file(con, f, user="tester", isolate=False, options={"encoding": "latin-1"})
    assert (res.status, res.rows_loaded) == ("loaded", 6)
    assert con.sql("SELECT owner FROM asset WHERE serial = 'MXL9876XYZ'").fetchall() == [("jürgen",)]
