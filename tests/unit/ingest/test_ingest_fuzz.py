"""Over 200 malformed billing files through the real pipeline (in-process for speed; the child-process isolation is
proven in test_ingest_pipeline.py with real limits). Each file gets a clear message naming it; a refused file leaves
every table unchanged (checksums before/after); a partly bad file loads its good rows and quarantines the bad ones
with row, column and reason; formula-looking text is stored as text, unchanged."""

from __future__ import annotations

import csv
import io
import random
import struct
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pytest

from engine import store
from engine.ingest.pipeline import IngestResult, ingest_file, quarantine_rows
from tests.conftest import needs_samples, sample_text
from tests.fx_rates import seed_test_rates

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
FOCUS12 = (FIXTURES / "focus_1.2_sample.csv").read_text()
CUR2 = (FIXTURES / "aws_cur2_sample.csv").read_text()
AZURE = sample_text("azure_ea_cost_details_sample_anonymized.csv")
GCP = (FIXTURES / "gcp_billing_export.jsonl").read_text()
FOCUS10_HEAD = "".join(sample_text("focus_1.0_sample_1000rows.csv").splitlines(keepends=True)[:41])


@dataclass
class Case:
    name: str
    data: bytes
    expect: str                         # refused | partial | loaded
    says: tuple[str, ...] = ()          # text the first message / quarantine reason must contain
    quarantined: int | None = None
    column: str | None = None
    kind: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    check: Callable[[duckdb.DuckDBPyConnection, IngestResult], None] | None = None


def rows_of(text: str | bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.decode() if isinstance(text, bytes) else text)))


def to_csv(rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue().encode()


def with_cell(text: str | bytes, row: int, column: str, value: str) -> bytes:
    rows = rows_of(text)
    rows[row][rows[0].index(column)] = value
    return to_csv(rows)


def without(text: str | bytes, column: str) -> bytes:
    rows = rows_of(text)
    i = rows[0].index(column)
    return to_csv([r[:i] + r[i + 1:] for r in rows])


def renamed(text: str | bytes, column: str, new: str) -> bytes:
    rows = rows_of(text)
    rows[0][rows[0].index(column)] = new
    return to_csv(rows)


def zip_bytes(entries: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as z:
        for n, d in entries.items():
            z.writestr(n, d)
    return buf.getvalue()


def declared_size_bomb() -> bytes:
    """A tiny archive whose central directory claims a 4 GB entry: refused on the declared size alone."""
    raw = bytearray(zip_bytes({"[Content_Types].xml": b"<x/>", "xl/workbook.xml": b"<w/>"}))
    pos = raw.rfind(b"PK\x01\x02")
    struct.pack_into("<I", raw, pos + 24, 0xF0000000)
    return bytes(raw)


def cases() -> Iterator[Case]:   # noqa: C901 - a catalogue, one block per kind of damage
    # 1. truncated at many offsets (header kept or not)
    data = FOCUS10_HEAD.encode()
    for i, cut in enumerate(range(37, len(data), max(1, len(data) // 40))):
        yield Case(f"trunc_{i:02d}.csv", data[:cut], "any")
    # 2. encodings
    latin = FOCUS12.replace("Compute Engine", "Café Engine", 1).encode("latin-1")
    yield Case("latin1.csv", latin, "refused", ("is not UTF-8", "choose its encoding"))
    yield Case("latin1_chosen.csv", latin, "loaded", options={"encoding": "latin-1"},
               check=lambda c, r: _assert_text(c, r, "service_name", "Café Engine"))
    for enc in ("utf-16", "utf-16-le", "utf-16-be"):
        body = FOCUS12.encode(enc) if enc == "utf-16" else (b"\xff\xfe" if enc.endswith("le") else b"\xfe\xff") + \
            FOCUS12.encode(enc)
        yield Case(f"{enc}.csv", body, "refused", ("UTF-16",))
    yield Case("utf16_chosen.csv", FOCUS12.replace("BA-1", "BA-16").encode("utf-16"), "loaded",
               options={"encoding": "utf-16"})
    yield Case("bom.csv", b"\xef\xbb\xbf" + FOCUS12.replace("BA-1", "BA-BOM").encode(), "loaded")
    yield Case("cp1252_quote.csv", FOCUS12.replace("Compute Engine", "Compute \u2019Engine").encode("cp1252"),
               "refused", ("not UTF-8",))
    yield Case("nul_bytes.csv", FOCUS12.encode().replace(b"Compute", b"Comp\x00ute", 1), "refused", ("NUL",))
    yield Case("bad_encoding_choice.csv", FOCUS12.encode(), "refused", ("an encoding among",),
               options={"encoding": "ebcdic"})
    # 3. missing and renamed required columns
    for col in ("BilledCost", "EffectiveCost", "ChargePeriodStart", "ChargePeriodEnd", "BillingCurrency",
                "BillingPeriodStart", "ServiceProviderName"):
        yield Case(f"focus_no_{col}.csv", without(FOCUS12, col), "refused", (col,), kind="focus")
        yield Case(f"focus_renamed_{col}.csv", renamed(FOCUS12, col, col + " (renamed)"), "refused", (col,),
                   kind="focus")
        yield Case(f"focus_spaced_{col}.csv", renamed(FOCUS12, col, " ".join(col)), "refused", (col,), kind="focus")
    lower = renamed(FOCUS12, "BilledCost", "billedcost").decode().replace("BA-1", "BA-LC")
    yield Case("focus_lowercase_header.csv", renamed(lower, "BillingAccountId", "billingaccountid"), "loaded")
    for col in ("line_item_line_item_type", "line_item_usage_start_date", "line_item_usage_end_date",
                "bill_billing_period_start_date", "line_item_unblended_cost", "line_item_currency_code"):
        yield Case(f"cur_no_{col}.csv", without(CUR2, col), "refused", (col,), kind="aws_cur")
    for col in ("Date", "CostInBillingCurrency", "BillingCurrencyCode", "SubscriptionId") if AZURE else ():
        yield Case(f"azure_no_{col}.csv", without(AZURE, col), "refused", ("a column named",), kind="azure_cost")
    yield Case("undetectable.csv", without(without(FOCUS12, "BilledCost"), "EffectiveCost"), "refused",
               ("a recognised export format",))
    # 4. text in numeric columns: the row is quarantined, the rest loads
    for col in ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "ConsumedQuantity"):
        for j, bad in enumerate(("abc", "1,000.00", "$5", "12..5", "ten", "1e", "0x1F")):
            expected = "a number" if col == "ConsumedQuantity" else "a decimal number"
            yield Case(f"text_in_{col}_{j}.csv", with_cell(FOCUS12, 1, col, bad), "partial",
                       (f"expected {expected}, got {bad}",), quarantined=1, column=col)
    # 5. dates, currency, enums, absurd values, inverted periods, tags
    for col in ("ChargePeriodStart", "ChargePeriodEnd", "BillingPeriodStart"):
        for j, bad in enumerate(("yesterday", "2024-13-45", "31/31/2024", "2025-02-30T00:00:00Z")):
            yield Case(f"date_{col}_{j}.csv", with_cell(FOCUS12, 2, col, bad), "partial",
                       ("expected a date/time", bad), quarantined=1, column=col)
    for j, bad in enumerate(("XYZ", "€", "DOLLARS", "US")):
        yield Case(f"currency_{j}.csv", with_cell(FOCUS12, 3, "BillingCurrency", bad), "partial",
                   ("expected an ISO 4217 currency code",), quarantined=1, column="billing_currency")
    yield Case("currency_missing.csv", with_cell(FOCUS12, 3, "BillingCurrency", ""), "partial",
               ("required value missing",), quarantined=1, column="billing_currency")
    for j, bad in enumerate(("Usagez", "Refund", "usage fee", "1")):
        yield Case(f"enum_{j}.csv", with_cell(FOCUS12, 1, "ChargeCategory", bad), "partial",
                   ("expected one of Usage, Purchase, Tax, Credit, Adjustment", bad), quarantined=1,
                   column="charge_category")
    for j, bad in enumerate(("1e15", "-3e11", "999999999999")):
        yield Case(f"absurd_{j}.csv", with_cell(FOCUS12, 1, "BilledCost", bad), "partial", ("absurd value",),
                   quarantined=1, column="billed_cost")
    yield Case("negative_credit_is_fine.csv", with_cell(FOCUS12, 5, "BilledCost", "-99.5"), "loaded")
    yield Case("inverted_period.csv", with_cell(FOCUS12, 1, "ChargePeriodEnd", "2025-03-04T00:00:00Z"), "partial",
               ("charge_period_end precedes charge_period_start",), quarantined=1, column="charge_period_end")
    for j, bad in enumerate(("{not json", "[1, 2]", '"just text"', "{'single': 'quotes'}")):
        yield Case(f"tags_{j}.csv", with_cell(FOCUS12, 2, "Tags", bad), "partial", ("expected tags as a JSON object",),
                   quarantined=1, column="Tags")
    # 6. structurally broken lines: only those lines are quarantined
    lines = FOCUS12.splitlines(keepends=True)
    for i in (1, 3, 5):
        extra = lines[:i] + [lines[i].rstrip("\n") + ",surplus\n"] + lines[i + 1:]
        yield Case(f"too_many_cols_{i}.csv", "".join(extra).encode(), "partial", ("TOO MANY COLUMNS",),
                   quarantined=1)
        short = lines[:i] + [",".join(lines[i].split(",")[:5]) + "\n"] + lines[i + 1:]
        yield Case(f"too_few_cols_{i}.csv", "".join(short).encode(), "partial", ("MISSING COLUMNS",), quarantined=1)
    yield Case("unterminated_quote.csv", (FOCUS12 + 'Contoso Cloud,"BA-1,EUR\n').encode(), "partial", (),
               quarantined=1)
    # 7. huge lines
    huge = "x" * (5 * 1024 * 1024)
    yield Case("huge_cell.csv", with_cell(FOCUS12, 2, "ServiceName", huge), "partial", ("MAXIMUM",), quarantined=1)
    yield Case("huge_header.csv", (huge + "\n" + FOCUS12).encode(), "refused", ())
    yield Case("one_huge_line.csv", ("a," * (3 * 1024 * 1024)).encode(), "refused", ())
    # 8. formula-looking text stays text
    formulas = ("=cmd|' /C calc'!A0", "+SUM(A1:A9)", "@HYPERLINK(\"http://x\")", "-2+3", "=1+1", "\t=2")
    for j, f in enumerate(formulas):
        for col, canon in (("ServiceName", "service_name"), ("ResourceId", "resource_id")):
            data = with_cell(FOCUS12.replace("BA-1", f"BA-F{j}{col[0]}"), 1, col, f)
            yield Case(f"formula_{col}_{j}.csv", data, "loaded",
                       check=lambda c, r, canon=canon, f=f: _assert_text(c, r, canon, f))
    # 9. garbage, empty and wrong containers
    yield Case("empty.csv", b"", "refused", ("0 bytes",))
    yield Case("newline.csv", b"\n", "refused", ())
    yield Case("header_only.csv", FOCUS12.splitlines()[0].encode() + b"\n", "refused", ("at least one data row",))
    yield Case("one_column.csv", b"value\n1\n2\n", "refused", ())
    rnd = random.Random(7)
    for i in range(6):
        yield Case(f"random_{i}.bin", bytes(rnd.randrange(256) for _ in range(2000)), "refused", ())
    yield Case("png.csv", b"\x89PNG\r\n\x1a\n" + bytes(200), "refused", ())
    yield Case("json_array.json", b'[{"a": 1}, {"a": 2}]', "refused", ())
    yield Case("json_object.json", b'{"BilledCost": 1}', "refused", ())
    pq = _parquet_bytes()
    for cut in (8, len(pq) // 2, len(pq) - 10):
        yield Case(f"truncated_{cut}.parquet", pq[:cut], "refused", ())
    yield Case("wrong_columns.parquet", _parquet_bytes("SELECT 1 AS a, 'x' AS b"), "refused", ())
    yield Case("semicolons.csv", FOCUS12.replace(",", ";").replace("BA-1", "BA-SEMI").encode(), "any")
    # 10. zip bombs and broken workbooks (checked before anything opens the archive)
    for mb in (30, 60):
        yield Case(f"ratio_bomb_{mb}.xlsx", zip_bytes({"xl/worksheets/sheet1.xml": bytes(mb * 1024 * 1024)}),
                   "refused", ("compression ratio",))
    for n in (2_500, 5_000):
        yield Case(f"entries_bomb_{n}.xlsx", zip_bytes({f"xl/f{i}.xml": b"" for i in range(n)},
                                                       compression=zipfile.ZIP_STORED), "refused", ("entries",))
    yield Case("declared_size.xlsx", declared_size_bomb(), "refused", ("uncompressed",))
    yield Case("not_a_zip.xlsx", b"PK\x03\x04garbage" + bytes(100), "refused", ("not a valid zip",))
    yield Case("zip_without_xl.xlsx", zip_bytes({"hello.txt": b"hi"}), "refused", ("no xl/",))
    # 11. AWS CUR: duplicates and damage
    for i in (2, 5, 9):
        rows = rows_of(CUR2)[:-1]
        rows.append(list(rows[i]))
        yield Case(f"cur_dup_{i}.csv", to_csv(rows), "partial", ("duplicate natural key", f"first at row {i}"),
                   quarantined=1)
    yield Case("cur_text_cost.csv", with_cell(CUR2, 4, "line_item_unblended_cost", "n/a"), "partial",
               ("expected a decimal number, got n/a",), quarantined=2)
    yield Case("cur_bad_start.csv", with_cell(CUR2, 1, "line_item_usage_start_date", "soon"), "partial",
               ("expected a date/time",), quarantined=2)
    # 12. Azure EA: dates and tags
    for j, bad in enumerate(("13/45/2023", "2023-09-02x", "Sept 2") if AZURE else ()):
        yield Case(f"azure_date_{j}.csv", with_cell(AZURE, 3, "Date", bad), "partial", ("expected a date/time",),
                   quarantined=1, column="Date")
    if AZURE:
        yield Case("azure_tags.csv", with_cell(AZURE, 2, "Tags", '"a": '), "partial", ("tags",), quarantined=1)
    # 13. GCP JSON lines
    g = GCP.splitlines(keepends=True)
    yield Case("gcp_truncated.jsonl", "".join(g[:2] + [g[2][: len(g[2]) // 2] + "\n"]).encode(), "refused", ())
    yield Case("gcp_text_cost.jsonl", "".join(g[:3] + [g[3].replace('"cost": 1.05', '"cost": "lots"')]).encode(),
               "partial", ("expected a decimal number, got lots",), quarantined=1)
    yield Case("gcp_bad_time.jsonl", "".join(g[:3] + [g[3].replace("2025-04-02 00:00:00 UTC", "later")]).encode(),
               "partial", ("expected a timestamp",), quarantined=1)


def _parquet_bytes(select: str | None = None) -> bytes:
    """Built at collection, in a folder of this process's own: pytest-xdist workers collect at the same time, and
    one shared file made them collide on DuckDB's file lock (seen: 'Could not set lock on file')."""
    src = select or f"SELECT * FROM read_csv('{FIXTURES / 'focus_1.2_sample.csv'}', all_varchar = true)"
    with tempfile.TemporaryDirectory(prefix="apportion-fuzz-") as folder:
        path = Path(folder) / "fuzz_src.parquet"
        con = duckdb.connect()
        con.execute(f"COPY ({src}) TO '{path}' (FORMAT parquet)")
        con.close()
        return path.read_bytes()


def _assert_text(con: duckdb.DuckDBPyConnection, res: IngestResult, column: str, value: str) -> None:
    got = con.sql(f'SELECT count(*) FROM cost_line WHERE batch_id = ? AND "{column}" = ?',
                  params=[res.batch_id, value]).fetchall()[0][0]
    assert got >= 1, f"{res.file}: {column} = {value!r} was not stored as text"


CASES = list(cases())


@needs_samples  # a bare clone runs the cases made from the repository's own fixtures
def test_catalogue_is_big_enough() -> None:
    assert len(CASES) >= 200
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.fixture(scope="module")
def fuzz_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[duckdb.DuckDBPyConnection, Path]]:
    d = tmp_path_factory.mktemp("fuzz")
    c = store.connect(d / "fuzz.duckdb")
    seed_test_rates(c)
    yield c, d
    c.close()


@pytest.mark.parametrize("chunk", range(4))
def test_malformed_files(fuzz_store: tuple[duckdb.DuckDBPyConnection, Path], chunk: int) -> None:
    con, d = fuzz_store
    failures: list[str] = []
    before = store.table_checksums(con)   # refreshed only when a case changed the store
    for case in CASES[chunk::4]:
        path = d / case.name
        path.write_bytes(case.data)
        try:
            res = ingest_file(con, path, kind=case.kind, options=case.options, isolate=False,
                              replace=True)   # the cases re-deliver the same month on purpose
            _verify(con, case, res, before)
        except AssertionError as exc:
            failures.append(f"{case.name}: {exc}")
        except Exception as exc:  # noqa: BLE001 - a crash is exactly what this test hunts
            failures.append(f"{case.name}: CRASH {type(exc).__name__}: {exc}")
        finally:
            path.unlink(missing_ok=True)
            if batches_moved(con, before):
                before = store.table_checksums(con)
    assert failures == []


def batches_moved(con: duckdb.DuckDBPyConnection, before: dict[str, Any]) -> bool:
    """Whether the last case loaded a batch (cheap); refused and repeated files must leave everything as it was,
    which `_verify` checks against the full checksums."""
    return con.sql("SELECT count(*) FROM ingest_batch").fetchall()[0][0] != before["ingest_batch"][0]


def _verify(con: duckdb.DuckDBPyConnection, case: Case, res: IngestResult, before: dict[str, Any]) -> None:
    assert res.messages and res.messages[0].startswith(f"{case.name}: "), res.messages
    if res.status == "refused":
        assert case.expect in ("refused", "any"), f"refused: {res.messages}"
        assert store.table_checksums(con) == before, "a refused file changed the database"
        for s in case.says:
            assert s in res.messages[0], f"{s!r} not in {res.messages[0]!r}"
        return
    assert res.status == "loaded", res.messages
    assert case.expect in ("loaded", "partial", "any"), f"expected refusal, got {res.messages}"
    assert res.rows_loaded + res.rows_quarantined == res.rows_read and res.rows_loaded > 0
    if case.expect == "loaded":
        assert res.rows_quarantined == 0, res.problems
    if case.quarantined is not None:
        assert res.rows_quarantined == case.quarantined, res.problems
    if res.rows_quarantined:
        q = quarantine_rows(con, res.batch_id or "")
        assert q.height == res.rows_quarantined
        assert all(r for r in q["reason"].to_list())
        assert res.problems and res.problems[0].startswith(f"{case.name}: row ")
        text = " | ".join(q["reason"].to_list())
        for s in case.says:
            assert s in text, f"{s!r} not in {text!r}"
        if case.column:
            assert case.column in q["column_name"].to_list(), q["column_name"].to_list()
            assert f"column '{case.column}'" in " ".join(res.problems)
        assert q["row_number"].null_count() == 0
    if case.check:
        case.check(con, res)
