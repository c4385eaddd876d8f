"""HR headcount / FTE / revenue per cost centre (CSV wide, XLSX long) → driver_value; XLSX zip-bomb checks."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from connectors._kit.source_rows import check_xlsx
from connectors.usage.hr_drivers import CONNECTOR
from engine.ingest import registry
from engine.ingest.contract.connector import FileRefused
from engine.ingest.pipeline import ingest_file
from tests.unit.inventory_helpers import FIXTURES, claims_no_billing_sample, count, detected, load, reasons

CSV = FIXTURES / "hr_headcount_revenue.csv"
XLSX = FIXTURES / "hr_drivers_long.xlsx"


def test_detected() -> None:
    assert detected(CSV) == "hr_drivers"
    assert detected(XLSX) == "hr_drivers"
    assert claims_no_billing_sample("hr_drivers") == []


def test_wide_csv() -> None:
    res = CONNECTOR.parse(CSV)
    assert (res.rows_read, res.frame.height) == (8, 11)
    got = {(r["driver"], r["target_id"]): r["quantity"] for r in res.frame.to_dicts()}
    assert got[("headcount", "CC-ENG")] == 42.0
    assert got[("fte", "CC-FIN")] == 11.8
    assert got[("revenue", "CC-SAL")] == 1_250_000.0
    assert ("revenue", "CC-OPS") not in got                             # empty cell: no driver row
    assert sum(v for (d, _), v in got.items() if d == "headcount") == 102.0
    assert set(res.frame["period"]) == {"2026-10"} and set(res.frame["target_kind"]) == {"cost_center"}
    assert reasons(res) == {
        5: "missing cost center",
        6: "negative value -3.0 in Headcount",
        7: "bad period '2026-13' in Period (expected YYYY-MM with month 01-12)",
        8: "duplicate 2026-10 / CC-ENG (first at row 1)",
    }


def test_long_xlsx() -> None:
    res = CONNECTOR.parse(XLSX)
    assert [(r["period"], r["driver"], r["target_id"], r["quantity"]) for r in res.frame.to_dicts()] == [
        ("2026-11", "headcount", "CC-ENG", 43.0), ("2026-11", "headcount", "CC-FIN", 12.0),
        ("2026-11", "revenue", "CC-SAL", 1310000.5)]
    q = reasons(res)
    assert q[4] == "missing value for headcount"          # a formula with no cached value is not a number
    assert q[5].startswith("bad date 'not a month' in Period")


def _zip(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def test_zip_bomb_ratio_refused_before_openpyxl(tmp_path: Path) -> None:
    bomb = _zip(tmp_path / "headcount.xlsx", {"[Content_Types].xml": b"<Types/>",
                                              "xl/worksheets/sheet1.xml": b"\0" * (20 * 2**20)})
    with pytest.raises(FileRefused, match="expands"):
        check_xlsx(bomb)
    with pytest.raises(FileRefused):
        CONNECTOR.parse(bomb)
    assert not CONNECTOR.detect(registry.sniff(bomb))


def test_zip_with_too_many_entries_refused(tmp_path: Path) -> None:
    many = _zip(tmp_path / "many.xlsx", {"[Content_Types].xml": b"<Types/>",
                                         **{f"xl/media/p{i}.bin": b"x" for i in range(1001)}})
    with pytest.raises(FileRefused, match="at most 1000 parts"):
        check_xlsx(many)


def test_not_a_zip_refused(tmp_path: Path) -> None:
    fake = tmp_path / "fake.xlsx"
    fake.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(FileRefused, match="not a readable zip"):
        check_xlsx(fake)


def test_pipeline(con) -> None:
    csv_res = load(con, CSV)
    assert (csv_res.rows_loaded, csv_res.rows_quarantined) == (11, 4)
    xlsx_res = load(con, XLSX)
    assert (xlsx_res.rows_loaded, xlsx_res.rows_quarantined) == (3, 2)
    assert count(con, "driver_value") == 14
    assert count(con, "driver_value", "driver = 'headcount' AND period = '2026-11'") == 2


def test_xlsx_through_the_sandboxed_child(con) -> None:
    res = ingest_file(con, XLSX, user="tester")                  # isolate=True: parsed in the child process
    assert (res.status, res.rows_loaded, res.rows_quarantined) == ("loaded", 3, 2)
    assert count(con, "driver_value", "driver = 'revenue'") == 1


def test_declared_uncompressed_size_refused(tmp_path: Path) -> None:
    path = _zip(tmp_path / "declares.xlsx", {"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<w/>"})
    data = bytearray(path.read_bytes())
    central = data.index(b"PK\x01\x02", data.index(b"PK\x01\x02") + 4)   # second entry's central header
    data[central + 24:central + 28] = (400 * 2**20).to_bytes(4, "little")  # claims 400 MB uncompressed
    path.write_bytes(bytes(data))
    with pytest.raises(FileRefused, match="unpacks to at most 300 MB"):
        check_xlsx(path)
