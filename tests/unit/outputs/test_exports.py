"""Exports never carry a live formula, and never touch a number."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal as D

import openpyxl
import polars as pl

from engine.outputs.exports import neutralise, neutralise_frame, to_csv_bytes, to_parquet_bytes, to_xlsx_bytes

HOSTILE = pl.DataFrame(
    {
        "cost_center": ["=1+2", "+SUM(A1)", "-3", "@cmd", "\tx", "\rx", "\nx", "CC-OPS", None],
        "amount": [D("-5.00"), D("1.00"), D("2.50"), D("3.00"), D("0"), D("1"), D("2"), D("3"), D("4")],
        "qty": [-1, 2, 3, 4, 5, 6, 7, 8, 9],
        "day": [date(2026, 1, 1)] * 9,
    },
    schema_overrides={"amount": pl.Decimal(18, 2)},
)


def test_neutralise_each_trigger() -> None:
    assert [neutralise(v) for v in ["=1", "+1", "-1", "@a", "\t", "\r", "\n", "ok", "a=b"]] == [
        "'=1", "'+1", "'-1", "'@a", "'\t", "'\r", "'\n", "ok", "a=b"]
    out = neutralise_frame(HOSTILE)
    assert out["cost_center"].to_list()[:4] == ["'=1+2", "'+SUM(A1)", "'-3", "'@cmd"]
    assert out["cost_center"][7] == "CC-OPS" and out["cost_center"][8] is None
    assert out["amount"].to_list() == HOSTILE["amount"].to_list()
    assert out["qty"].to_list()[0] == -1


def test_csv_keeps_negative_numbers_numeric() -> None:
    text = to_csv_bytes(HOSTILE).decode()
    first = text.splitlines()[1]
    assert first == "'=1+2,-5.00,-1,2026-01-01"


def test_xlsx_has_no_formulas_and_numbers_stay_numbers() -> None:
    data = to_xlsx_bytes({"statement": HOSTILE}, titles={"statement": ["=Statement CC-OPS", "period 2026-01"]})
    wb = openpyxl.load_workbook(io.BytesIO(data))
    ws = wb["statement"]
    cells = [c for row in ws.iter_rows() for c in row if c.value is not None]
    assert not any(c.data_type == "f" for c in cells)
    assert ws["A1"].value == "'=Statement CC-OPS"
    assert ws["A5"].value == "'=1+2"
    assert ws["B5"].value == -5 and ws["C5"].value == -1
    # Unsafe mode still writes no formula: strings_to_formulas=False.
    raw = openpyxl.load_workbook(io.BytesIO(to_xlsx_bytes({"s": HOSTILE}, safe=False)))["s"]
    assert raw["A2"].value == "=1+2" and raw["A2"].data_type == "s"


def test_parquet_round_trip_keeps_types() -> None:
    back = pl.read_parquet(io.BytesIO(to_parquet_bytes(HOSTILE)))
    assert back.schema["amount"] == pl.Decimal(18, 2)
    assert back["cost_center"][0] == "'=1+2"
    assert back["amount"].sum() == D("11.50")
