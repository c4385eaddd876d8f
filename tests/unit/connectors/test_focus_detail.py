"""FOCUS detail an auditor needs is stored, not dropped (connectors/billing/focus.py, migrations 0026 and 0028: the
rare 1.1–1.3 columns are packed in `cost_line.focus_detail` and read back by name as generated columns): a split row's
own ResourceId and AllocatedMethodDetails, the commitment / capacity-reservation / SKU price / contract columns
and the PricingCurrency amounts equal the file's cells; a literal `null` in any case is NULL in text and numeric
columns; the FOCUS 1.0 sample still loads with the same totals; a re-delivery's rollback keeps the detail."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from engine.ingest.pipeline import ingest_file, rollback_batch
from tests.conftest import SAMPLES

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
DETAIL = FIXTURES / "focus_1.3_detail.csv"
FOCUS10 = SAMPLES / "focus_1.0_sample_1000rows.csv"
SPEC_CDF = SAMPLES / "real" / "focus_spec_cdf_2_resources.csv"

# FOCUS column -> (cost_line column, how the cell reads)
STORED = {
    "ResourceId": ("origin_resource_id", "split"),
    "AllocatedMethodId": ("allocated_method_id", "text"),
    "AllocatedMethodDetails": ("allocated_method_details", "text"),
    "CommitmentDiscountId": ("commitment_discount_id", "text"),
    "CommitmentDiscountCategory": ("commitment_discount_category", "enum"),
    "CommitmentDiscountName": ("commitment_discount_name", "text"),
    "CommitmentDiscountQuantity": ("commitment_discount_quantity", "quantity"),
    "CommitmentDiscountStatus": ("commitment_discount_status", "enum"),
    "CommitmentDiscountUnit": ("commitment_discount_unit", "text"),
    "CapacityReservationId": ("capacity_reservation_id", "text"),
    "CapacityReservationStatus": ("capacity_reservation_status", "enum"),
    "ContractApplied": ("contract_applied", "text"),
    "ServiceSubcategory": ("service_subcategory", "text"),
    "SkuPriceId": ("sku_price_id", "text"),
    "PricingCurrency": ("pricing_currency", "text"),
    "PricingCurrencyEffectiveCost": ("pricing_currency_effective_cost", "money"),
    "ChargeDescription": ("charge_description", "text"),
    "ListCost": ("list_cost", "money"),
    "ContractedCost": ("contracted_cost", "money"),
    "ConsumedQuantity": ("consumed_quantity", "quantity"),
    "PricingQuantity": ("pricing_quantity", "quantity"),
}


def _cell(value: str) -> str | None:
    return None if value == "" or value.lower() == "null" else value


def _expected(row: dict[str, str], focus: str, how: str) -> object:
    v = _cell(row[focus])
    if v is None:
        return None
    if how == "split":      # kept on split rows only
        return v if _cell(row["AllocatedMethodId"]) else None
    if how == "enum":       # FOCUS casing, e.g. 'usage' -> 'Usage'
        return v[:1].upper() + v[1:].lower()
    if how == "money":
        return Decimal(v).quantize(Decimal("1e-10"))
    if how == "quantity":
        return float(v)
    return v


def _file_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _stored(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, object]]:
    cols = ", ".join(c for c, _ in STORED.values())
    rel = con.sql(f"SELECT {cols} FROM cost_line")
    return {str(r["charge_description"]): r for r in (dict(zip(rel.columns, t, strict=True)) for t in rel.fetchall())}


def test_detail_columns_equal_the_files_cells(con: duckdb.DuckDBPyConnection) -> None:
    res = ingest_file(con, DETAIL, isolate=False)
    assert res.status == "loaded", res.messages
    # the origin row whose cost the two split rows carry is quarantined, not counted twice
    assert (res.rows_loaded, res.rows_quarantined) == (5, 1)
    assert any("origin of provider-side split rows" in p for p in res.problems)
    billed, effective = con.sql("SELECT sum(billed_cost), sum(effective_cost) FROM cost_line").fetchall()[0]
    assert (billed, effective) == (Decimal("607.25"), Decimal("108.00"))

    stored = _stored(con)
    loaded = [r for r in _file_rows(DETAIL) if not r["ChargeDescription"].endswith("(origin)")]
    assert sorted(stored) == sorted(r["ChargeDescription"] for r in loaded)
    for row in loaded:
        got = stored[row["ChargeDescription"]]
        for focus, (column, how) in STORED.items():
            assert got[column] == _expected(row, focus, how), (row["ChargeDescription"], focus)

    # what an auditor reads off the split rows: the cluster they came from and how the cost was split
    split = con.sql("SELECT resource_id, origin_resource_id, allocated_method_id, allocated_method_details "
                    "FROM cost_line WHERE allocated_method_id IS NOT NULL ORDER BY 1").fetchall()
    assert [r[:3] for r in split] == [("ns-payments", "k8s-1", "cpu-share"), ("ns-search", "k8s-1", "cpu-share")]
    assert sum(json.loads(r[3])["Elements"][0]["AllocatedRatio"] for r in split) == pytest.approx(1.0)
    assert con.sql("SELECT count(*) FROM cost_line WHERE allocated_method_id IS NULL "
                   "AND origin_resource_id IS NOT NULL").fetchall() == [(0,)]
    # ContractApplied kept as the file's text, still valid JSON
    contract = con.sql("SELECT contract_applied FROM cost_line WHERE contract_applied IS NOT NULL"
                       ).fetchall()
    assert [json.loads(c)["ContractApplied"][0]["ContractCommitmentID"] for (c,) in contract] == ["CC-9"]
    # PricingCurrency amounts sit beside the billed ones, in their own currency
    eur = con.sql("SELECT billing_currency, sum(pricing_currency_effective_cost), sum(effective_cost) "
                  "FROM cost_line WHERE pricing_currency = 'EUR' GROUP BY 1").fetchall()
    assert eur == [("USD", Decimal("0.69"), Decimal("0.75"))]


def test_literal_null_in_any_case_reads_as_null(con: duckdb.DuckDBPyConnection) -> None:
    res = ingest_file(con, DETAIL, isolate=False)
    assert res.status == "loaded", res.messages
    # the tax row writes null, Null, NULL and nUlL in text and numeric cells: loaded, every one of them NULL
    tax = con.sql("SELECT list_cost, contracted_cost, consumed_quantity, pricing_quantity, sku_price_id, "
                  "service_subcategory, pricing_category, resource_id, tags, billed_cost FROM cost_line "
                  "WHERE charge_category = 'Tax'").fetchall()
    assert tax == [(None,) * 9 + (Decimal("7.25"),)]
    texts = [c for (c,) in con.sql("SELECT column_name FROM information_schema.columns WHERE table_name = "
                                   "'cost_line' AND data_type = 'VARCHAR'").fetchall()]
    spelled = " OR ".join(f'"{c}" ILIKE \'null\'' for c in texts)
    assert con.sql(f"SELECT count(*) FROM cost_line WHERE {spelled}").fetchall() == [(0,)]


def test_detail_columns_from_a_typed_parquet_file(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    """A Parquet export types the amounts and may nest the JSON objects: the same values are stored, the nested
    AllocatedMethodDetails as JSON text."""
    pq = tmp_path / "focus_detail.parquet"
    duckdb.sql(
        f"COPY (SELECT * REPLACE (CAST(AllocatedMethodDetails AS JSON)::STRUCT(\"Elements\" STRUCT(\"AllocatedRatio\" "
        f"DOUBLE, \"UsageUnit\" VARCHAR, \"UsageQuantity\" DOUBLE)[]) AS AllocatedMethodDetails) "
        f"FROM read_csv('{DETAIL}', nullstr = ['null', 'NULL', 'Null', 'nUlL'])) TO '{pq}' (FORMAT parquet)")
    types = duckdb.sql(f"SELECT typeof(PricingCurrencyEffectiveCost), typeof(AllocatedMethodDetails) "
                       f"FROM '{pq}' LIMIT 1").fetchall()[0]
    assert types[0] == "DOUBLE" and types[1].startswith("STRUCT")
    res = ingest_file(con, pq, isolate=False)
    assert res.status == "loaded" and (res.rows_loaded, res.rows_quarantined) == (5, 1), res.messages
    stored = _stored(con)
    for row in (r for r in _file_rows(DETAIL) if not r["ChargeDescription"].endswith("(origin)")):
        got = stored[row["ChargeDescription"]]
        for focus, (column, how) in STORED.items():
            want = _expected(row, focus, how)
            if focus in ("AllocatedMethodDetails", "ContractApplied") and want is not None:
                assert json.loads(str(got[column])) == json.loads(str(want)), focus
            elif how == "money" and want is not None:
                assert got[column] == pytest.approx(want), focus   # a DOUBLE column read as DECIMAL(38,10)
            else:
                assert got[column] == want, (row["ChargeDescription"], focus)


@pytest.mark.skipif(not SPEC_CDF.is_file(), reason=f"needs {SPEC_CDF}")
def test_the_spec_example_with_lowercase_null_loads_every_row(con: duckdb.DuckDBPyConnection,
                                                              tmp_path: Path) -> None:
    """The FOCUS spec's commitment-flexibility example writes `null`: its purchase row (ConsumedQuantity null) was
    quarantined as 'expected a number, got null'. Given the two columns the spec's subset leaves out, every row
    loads and the commitment columns equal the file's."""
    with open(SPEC_CDF, newline="", encoding="utf-8") as f:
        rows = [r for r in csv.reader(f) if r]
    path = tmp_path / "cdf_2_resources.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([rows[0] + ["BillingCurrency", "ServiceProviderName"],
                                 *(r + ["USD", "FOCUS spec"] for r in rows[1:])])
    res = ingest_file(con, path, isolate=False)
    assert res.status == "loaded" and (res.rows_loaded, res.rows_quarantined) == (3, 0), res.messages
    got = con.sql("SELECT charge_category, consumed_quantity, consumed_unit, commitment_discount_status, "
                  "commitment_discount_category, commitment_discount_quantity, commitment_discount_unit, "
                  "sku_price_id FROM cost_line ORDER BY ALL").fetchall()
    assert got == [("Purchase", None, None, None, "Usage", 4.0, "Normalized Hour",
                    "VM_XLARGE_COMMITTED_PURCHASE_NO_UPFRONT")] + [
                   ("Usage", 1.0, "Hour", "Used", "Usage", 2.0, "Normalized Hour", "VM_MEDIUM_COMMITTED_HOUR")] * 2
    assert con.sql("SELECT sum(billed_cost), sum(effective_cost) FROM cost_line").fetchall() == \
        [(Decimal("2.00"), Decimal("2.00"))]


@pytest.mark.skipif(not FOCUS10.is_file(), reason=f"needs {FOCUS10}")
def test_focus_10_sample_still_loads_with_the_same_totals(con: duckdb.DuckDBPyConnection) -> None:
    res = ingest_file(con, FOCUS10, isolate=False)
    assert res.status == "loaded" and (res.rows_loaded, res.rows_quarantined) == (1000, 0), res.messages
    raw = f"read_csv('{FOCUS10}', all_varchar = true)"
    dec = "sum(CAST(nullif(\"{0}\", 'NULL') AS DECIMAL(38, 10)))"
    want = duckdb.sql(f"SELECT count(*), {dec.format('BilledCost')}, {dec.format('EffectiveCost')}, "
                      f"{dec.format('ListCost')} FROM {raw}").fetchall()[0]
    got = con.sql("SELECT count(*), sum(billed_cost), sum(effective_cost), sum(list_cost) FROM cost_line"
                  ).fetchall()[0]
    assert got == want
    assert (round(got[1], 2), round(got[2], 2)) == (Decimal("20.52"), Decimal("14.98"))
    # the 1.0 columns the store now keeps equal the file's (its literal NULL is NULL) ...
    keep = ("CommitmentDiscountCategory", "CommitmentDiscountName", "SkuPriceId")
    counted = ", ".join(f"count(nullif(\"{c}\", 'NULL')), count(DISTINCT nullif(\"{c}\", 'NULL'))" for c in keep)
    stored = ("count(commitment_discount_category), count(DISTINCT commitment_discount_category), "
              "count(commitment_discount_name), count(DISTINCT commitment_discount_name), "
              "count(sku_price_id), count(DISTINCT sku_price_id)")
    file_counts = duckdb.sql(f"SELECT {counted} FROM {raw}").fetchall()[0]
    assert con.sql(f"SELECT {stored} FROM cost_line").fetchall()[0] == file_counts
    assert file_counts[4] > 0
    # ... and the columns FOCUS 1.0 does not have stay NULL: nothing is packed
    assert con.sql("SELECT count(focus_detail) FROM cost_line").fetchall() == [(0,)]


def test_a_rolled_back_redelivery_restores_the_detail(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    """The replaced rows wait in cost_line_superseded column for column (migration 0026 keeps superseded_by last)
    and come back unchanged."""
    first = ingest_file(con, DETAIL, isolate=False)
    before = con.sql("SELECT * FROM cost_line ORDER BY ALL").fetchall()
    v2 = tmp_path / "focus_1.3_detail_v2.csv"
    v2.write_text(DETAIL.read_text(encoding="utf-8").replace(",7.25,7.25,", ",7.50,7.50,"), encoding="utf-8")
    second = ingest_file(con, v2, isolate=False, replace=True)
    assert second.status == "loaded" and second.replaced == [first.batch_id], second.messages
    kept = con.sql("SELECT contract_applied, sku_price_id, superseded_by FROM cost_line_superseded "
                   "WHERE contract_applied IS NOT NULL").fetchall()
    assert kept == [(_cell(_file_rows(DETAIL)[3]["ContractApplied"]), "RI-M5L-1Y-NU", second.batch_id)]
    rollback_batch(con, second.batch_id or "", "fin", "wrong tax")
    assert con.sql("SELECT * FROM cost_line ORDER BY ALL").fetchall() == before


def _with_cell(tmp_path: Path, column: str, value: str, row: int = 3) -> Path:
    """The detail fixture with one cell of data row `row` (0-based) replaced."""
    rows = _file_rows(DETAIL)
    rows[row][column] = value
    path = tmp_path / f"detail_{column}.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def test_a_packed_amount_reads_back_exact(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    """Packed as a string, never as a JSON number: 20 significant digits survive (a double keeps ~16)."""
    path = _with_cell(tmp_path, "PricingCurrencyEffectiveCost", "9876543210.1234567891")
    res = ingest_file(con, path, isolate=False)
    assert res.status == "loaded", res.messages
    got = con.sql("SELECT pricing_currency_effective_cost FROM cost_line WHERE charge_description = ?",
                  params=[_file_rows(DETAIL)[3]["ChargeDescription"]]).fetchall()
    assert got == [(Decimal("9876543210.1234567891"),)]


def test_a_control_character_in_a_packed_column_is_quarantined_by_name(con: duckdb.DuckDBPyConnection,
                                                                       tmp_path: Path) -> None:
    """Packing escapes a control character as \\u001b inside the JSON, so the hygiene check runs on the detail
    column itself."""
    path = _with_cell(tmp_path, "CapacityReservationId", "cr-\x1b7")
    res = ingest_file(con, path, isolate=False)
    assert res.status == "loaded", res.messages
    assert (res.rows_loaded, res.rows_quarantined) == (4, 2)
    reasons = con.sql("SELECT column_name, reason FROM quarantine_row WHERE column_name = "
                      "'capacity_reservation_id'").fetchall()
    assert len(reasons) == 1 and "U+001B" in reasons[0][1], reasons


def test_a_store_with_the_detail_columns_migrates_to_the_packed_column(tmp_path: Path) -> None:
    """A store at migration 0027 (detail in its own columns, live and superseded) keeps every value after 0028."""
    from engine import store  # noqa: PLC0415

    con = duckdb.connect(str(tmp_path / "old.duckdb"))
    con.execute("CREATE TABLE schema_migration (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, "
                "applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp)")
    for version, name, sql in store.migrations():
        if version > 27:
            break
        for stmt in store._split_statements(sql):
            con.execute(stmt)
        con.execute("INSERT INTO schema_migration (version, name) VALUES (?, ?)", [version, name])
    line = ("INSERT INTO {t} (billing_period, charge_period_start, charge_period_end, provider, billed_cost, "
            "effective_cost, billing_currency, batch_id, origin_resource_id, contract_applied, "
            "commitment_discount_quantity, pricing_currency, pricing_currency_effective_cost{extra}) VALUES "
            "('2025-06', '2025-06-01', '2025-06-02', 'P', 1, 1, 'USD', 'b1', 'k8s-1', '{{\"a\": 1}}', 2.5, 'EUR', "
            "1234567890.0123456789{value})")
    con.execute(line.format(t="cost_line", extra="", value=""))
    con.execute("INSERT INTO cost_line (billing_period, charge_period_start, charge_period_end, provider, "
                "billed_cost, effective_cost, billing_currency, batch_id) VALUES "
                "('2025-06', '2025-06-01', '2025-06-02', 'P', 2, 2, 'USD', 'b1')")
    con.execute(line.format(t="cost_line_superseded", extra=", superseded_by", value=", 'b2'"))
    # a line converted at ingest (NOK 100 at 0.09 = USD 9) and one billed in the reporting currency (rate 1)
    con.execute("INSERT INTO cost_line (billing_period, charge_period_start, charge_period_end, provider, "
                "billed_cost, effective_cost, list_cost, billing_currency, batch_id, billed_cost_billing, "
                "effective_cost_billing, list_cost_billing, reporting_currency, fx_rate) VALUES "
                "('2025-06', '2025-06-01', '2025-06-02', 'N', 9, 4.5, NULL, 'NOK', 'b3', 100, 50, NULL, 'USD', 0.09)")
    assert store.migrate(con)[0] == 28
    fx = con.sql("SELECT provider, billing_currency, reporting_currency, fx_rate, billed_cost, billed_cost_billing, "
                 "effective_cost_billing, list_cost_billing FROM cost_line WHERE provider IN ('N', 'P') "
                 "ORDER BY provider, billed_cost").fetchall()
    assert fx == [("N", "NOK", "USD", Decimal("0.09"), Decimal(9), Decimal(100), Decimal(50), None),
                  ("P", "USD", "USD", Decimal(1), Decimal(1), Decimal(1), Decimal(1), None),
                  ("P", "USD", "USD", Decimal(1), Decimal(2), Decimal(2), Decimal(2), None)]
    assert con.sql("SELECT count(fx_detail) FROM cost_line").fetchall() == [(1,)]
    got = con.sql("SELECT origin_resource_id, contract_applied, commitment_discount_quantity, pricing_currency, "
                  "pricing_currency_effective_cost FROM cost_line WHERE provider = 'P' ORDER BY billed_cost"
                  ).fetchall()
    assert got == [("k8s-1", '{"a": 1}', 2.5, "EUR", Decimal("1234567890.0123456789")), (None,) * 5]
    superseded = con.sql("SELECT pricing_currency_effective_cost, superseded_by FROM cost_line_superseded"
                         ).fetchall()
    assert superseded == [(Decimal("1234567890.0123456789"), "b2")]
    # the superseded table still stores cost_line's columns in cost_line's order, superseded_by after them
    def stored(table: str) -> list[str]:
        return [c for (c,) in con.sql("SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                                      "AND is_generated = 'NEVER' ORDER BY ordinal_position", params=[table]
                                      ).fetchall()]
    assert stored("cost_line_superseded") == [*stored("cost_line"), "superseded_by"]
    con.close()


def test_a_line_without_a_required_value_refuses_the_load(con: duckdb.DuckDBPyConnection) -> None:
    """cost_line carries no NOT NULL constraints since migration 0028 (they cost ~10 % of a load); the load's own
    guard finds an empty required value among the batch's lines and refuses, inside the load's transaction."""
    from engine import store  # noqa: PLC0415
    from engine.errors import IntegrityError  # noqa: PLC0415
    from engine.ingest.pipeline import _verify_required  # noqa: PLC0415

    con.execute("INSERT INTO cost_line (billing_period, charge_period_start, charge_period_end, provider, "
                "billed_cost, effective_cost, billing_currency, batch_id) VALUES "
                "('2025-06', '2025-06-01', '2025-06-02', 'P', 1, 1, 'USD', 'good'), "
                "('2025-06', '2025-06-01', '2025-06-02', 'P', 1, NULL, 'USD', 'bad')")
    _verify_required(con, "good", "good.csv")
    with pytest.raises(IntegrityError, match="bad.csv: 1 value"), store.transaction(con):
        _verify_required(con, "bad", "bad.csv")
