"""The money parser's fast path (DECIMAL(18,10) first) gives exactly what the 128-bit parse gives, for every text
it accepts, and the 128-bit parse still takes what does not fit."""

from __future__ import annotations

from decimal import Decimal

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.ingest.contract.rules import parse_decimal

EDGES = ["0.00000080000", "1.23456789012345", "-0.000000000049", "0.000000000051", "-0.00000000005",
         "0.00000000005", "99999999.99999999994", "99999999.99999999995", "-99999999.999999999951",
         "100000000.5", "123456789012345678.25", "4.55e-05", "5.64902E-05", " 3.5 ", "+7.25", ".5", "5.", "1e3",
         "-0", "1,5", "abc", "", "12,50 EUR", "1e40"]


def _both(con: duckdb.DuckDBPyConnection, values: list[str]) -> list[tuple[str, Decimal | None, Decimal | None]]:
    con.execute("CREATE OR REPLACE TABLE v (x VARCHAR)")
    con.executemany("INSERT INTO v VALUES (?)", [[v] for v in values])
    reference = ("coalesce(TRY_CAST(x AS DECIMAL(38, 10)), "
                 "TRY_CAST(TRY_CAST(x AS DOUBLE) AS DECIMAL(38, 10)))")
    return con.sql(f"SELECT x, {parse_decimal('x')}, {reference} FROM v").fetchall()


def test_edges_parse_exactly_as_the_wide_decimal() -> None:
    con = duckdb.connect()
    rows = _both(con, EDGES)
    assert all(fast == ref for _, fast, ref in rows), [r for r in rows if r[1] != r[2]]
    got = {x: fast for x, fast, _ in rows}
    assert got["99999999.99999999995"] == Decimal("100000000.0000000000")   # rounds up past 10^8: wide path
    assert got["123456789012345678.25"] == Decimal("123456789012345678.25")
    assert got["4.55e-05"] == Decimal("0.0000455")
    assert got["12,50 EUR"] is None and got["abc"] is None and got[""] is None


@settings(max_examples=300, deadline=None)
@given(st.lists(st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e12"), allow_nan=False,
                            allow_infinity=False, places=None).map(str), min_size=1, max_size=50))
def test_any_decimal_text_parses_exactly_as_the_wide_decimal(values: list[str]) -> None:
    con = duckdb.connect()
    for x, fast, ref in _both(con, values):
        assert fast == ref, x
