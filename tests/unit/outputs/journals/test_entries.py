"""Journals of a posted demo run: every document balances in every layout, re-export is byte-identical, the
chargeback and depreciation amounts are the run's and the register's, and what cannot be posted is refused."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import date
from decimal import Decimal

import duckdb
import pytest

from engine.access.users import get_user
from engine.allocation.runs import latest_run
from engine.costmodels.depreciation import depreciation_for_period
from engine.errors import AllocationError, InputError, NotFound
from engine.outputs import journals
from engine.outputs.journals import mapping
from engine.settings import get_settings

PERIOD = "2026-10"
D = Decimal


def _rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


def _sums(rows: list[dict[str, str]], doc: str, *amounts: str) -> dict[str, list[Decimal]]:
    out: dict[str, list[Decimal]] = defaultdict(lambda: [D(0)] * len(amounts))
    for r in rows:
        out[r[doc]] = [t + D(r[a] or "0") for t, a in zip(out[r[doc]], amounts, strict=True)]
    return dict(out)


def test_every_document_balances_in_every_layout(demo_con: duckdb.DuckDBPyConnection) -> None:
    j = journals.build(demo_con, PERIOD)
    run = latest_run(demo_con, PERIOD)
    assert j.run_key == run and j.run_state == "posted" and j.currency == get_settings().currency
    assert j.documents and all(d.balance == 0 for d in j.documents)
    sap = _rows(journals.render(j, "sap"))
    oracle = _rows(journals.render(j, "oracle"))
    generic = _rows(journals.render(j, "csv"))
    numbers = [d.number for d in j.documents]
    assert set(_sums(sap, "REF_DOC_NO", "AMT_DOCCUR")) == set(numbers)
    assert all(total == [D(0)] for total in _sums(sap, "REF_DOC_NO", "AMT_DOCCUR").values())
    assert all(dr == cr for dr, cr in _sums(oracle, "REFERENCE4", "ENTERED_DR", "ENTERED_CR").values())
    assert all(dr == cr for dr, cr in _sums(generic, "document", "debit", "credit").values())
    assert {r["CURRENCY"] for r in sap} == {r["CURRENCY_CODE"] for r in oracle} == {j.currency}
    assert {r["COMP_CODE"] for r in sap} == {get_settings().company_code}
    assert {r["PSTNG_DATE"] for r in sap} == {"20261031"} and {r["ACCOUNTING_DATE"] for r in oracle} == {"2026-10-31"}
    # the reference a finance user follows back: run key on every SAP item, rule set and version in the header
    assert {r["ALLOC_NMBR"] for r in sap} == {run[:18]} and {r["REFERENCE2"] for r in oracle} == {j.reference}
    assert {r["HEADER_TXT"] for r in sap} == {f"{j.rule_set} v{j.rule_version} {PERIOD}"[:25]}


def test_chargeback_moves_what_the_run_posted(demo_con: duckdb.DuckDBPyConnection) -> None:
    j = journals.build(demo_con, PERIOD)
    total_out, = demo_con.execute("SELECT total_out FROM allocation_run WHERE run_key = ?", [j.run_key]).fetchall()[0]
    charged = sum((d.total_debit for d in j.documents if d.kind == "chargeback"), D(0))
    # what the receivers are debited plus the explicit UNALLOCATED line is the run's posted total, to the cent
    assert j.unallocated > 0 and charged + j.unallocated == total_out
    per_pool = dict(demo_con.execute(
        "SELECT source_pool, sum(posted_amount) FROM allocation_result WHERE run_key = ? AND target_kind <>"
        " 'unallocated' GROUP BY 1", [j.run_key]).fetchall())
    net = {d.pool: sum((ln.amount for ln in d.lines[:-1]), D(0)) for d in j.documents if d.kind == "chargeback"}
    assert net == {p: a for p, a in per_pool.items() if a}
    network = next(d for d in j.documents if d.pool == "network")
    credit = network.lines[-1]
    assert (credit.account, credit.cost_center, credit.amount) == ("6490", "CC035", -net["network"])
    assert {ln.account for ln in network.lines[:-1]} == {"6420"}


def test_depreciation_document_uses_the_mapping(demo_con: duckdb.DuckDBPyConnection) -> None:
    expected = sum(depreciation_for_period(demo_con, PERIOD)["depreciation"].to_list(), D(0))
    j = journals.build(demo_con, PERIOD)
    dep = j.documents[-1]
    assert dep.kind == "depreciation" and dep.classification == "capex" and expected > 0
    assert dep.total_debit == expected and dep.balance == 0
    assert {ln.account for ln in dep.lines if ln.amount > 0} == {"6810"}
    assert {ln.account for ln in dep.lines if ln.amount < 0} == {"1790"}
    fiona = get_user(demo_con, "fiona")
    mapping.set_mapping(demo_con, fiona, pool="depreciation", debit_account="6820", credit_account="1795",
                        classification="capex", description="Depreciation of IT assets")
    moved = journals.build(demo_con, PERIOD).documents[-1]
    assert {ln.account for ln in moved.lines} == {"6820", "1795"} and moved.total_debit == expected


def test_reexport_is_byte_identical(demo_con: duckdb.DuckDBPyConnection) -> None:
    for layout in journals.LAYOUTS:
        first = journals.export(demo_con, PERIOD, layout)
        again = journals.export(demo_con, PERIOD, layout, first[0].run_key)
        assert first[1] == again[1], layout
        assert [d.number for d in first[0].documents] == [d.number for d in again[0].documents]
    j = journals.build(demo_con, PERIOD)
    assert [d.number for d in j.documents] == [f"{j.run_key[:8].upper()}-{i:03d}"
                                               for i in range(1, len(j.documents) + 1)]


def test_a_pool_without_mapping_is_refused_by_name(demo_con: duckdb.DuckDBPyConnection) -> None:
    mapping.remove(demo_con, get_user(demo_con, "fiona"), "backup")
    with pytest.raises(InputError, match="no GL mapping for pool backup"):
        journals.build(demo_con, PERIOD)


def test_a_second_currency_is_refused(demo_con: duckdb.DuckDBPyConnection) -> None:
    eur = get_settings().model_copy(update={"currency": "EUR"})
    with pytest.raises(InputError, match="has cost in USD besides the reporting currency EUR"):
        journals.build(demo_con, PERIOD, settings=eur)


def test_a_target_without_cost_centre_is_refused(demo_con: duckdb.DuckDBPyConnection) -> None:
    run = latest_run(demo_con, PERIOD)
    demo_con.execute(
        "INSERT INTO allocation_result (run_key, period, step, source_pool, method, target_kind, target_id,"
        " amount, posted_amount) VALUES (?, ?, 99, 'network', 'even', 'business_unit', 'BU01', 1, 1)",
        [run, PERIOD])
    with pytest.raises(AllocationError, match="pool network charges business_unit BU01"):
        journals.build(demo_con, PERIOD)


def test_run_selection(demo_con: duckdb.DuckDBPyConnection) -> None:
    september = latest_run(demo_con, "2026-09")
    assert september is not None
    with pytest.raises(InputError, match="is the run of 2026-09, not of 2026-10"):
        journals.build(demo_con, PERIOD, september)
    with pytest.raises(NotFound, match="no posted allocation run"):
        journals.build(demo_con, "2020-01")
    with pytest.raises(InputError, match="layout must be one of"):
        journals.render(journals.build(demo_con, PERIOD), "xml")


def test_posting_date_and_period_follow_the_fiscal_calendar(demo_con: duckdb.DuckDBPyConnection) -> None:
    april = journals.build(demo_con, PERIOD, settings=get_settings().model_copy(
        update={"fiscal_year_start_month": 4}))
    assert (april.posting_date, april.fiscal_year, april.fiscal_period) == (date(2026, 10, 31), 2027, 7)
    weeks = journals.build(demo_con, PERIOD, settings=get_settings().model_copy(
        update={"fiscal_period_scheme": "4-4-5"}))
    # FY2026 starts Monday 29 Dec 2025; P10 is weeks 40–43: 28 Sep – 25 Oct 2026
    assert (weeks.posting_date, weeks.fiscal_year, weeks.fiscal_period) == (date(2026, 10, 25), 2026, 10)
    sap = _rows(journals.render(weeks, "sap"))
    assert {(r["PSTNG_DATE"], r["FISC_YEAR"], r["FIS_PERIOD"]) for r in sap} == {("20261025", "2026", "10")}
