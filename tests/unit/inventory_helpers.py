"""Shared by the inventory/driver/licence connector tests: fixture paths, detection, and real pipeline loads."""

from __future__ import annotations

from pathlib import Path

import duckdb

from engine.ingest import registry
from engine.ingest.contract.connector import ParseResult
from engine.ingest.pipeline import IngestResult, ingest_file

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "inventory"
SAMPLES = ROOT.parent / "shared" / "samples"


def detected(path: Path) -> str:
    return registry.detect(path).name


def claims_no_billing_sample(name: str) -> list[str]:
    """Billing samples this connector would (wrongly) claim; the tests expect []."""
    conn = registry.by_name(name)
    samples = sorted(SAMPLES.glob("*.csv")) + sorted((ROOT / "tests" / "fixtures").glob("*.*"))
    return [p.name for p in samples if p.suffix != ".py" and conn.detect(registry.sniff(p))]


def reasons(res: ParseResult) -> dict[int, str]:
    """Quarantine as {source row number: reason}."""
    return {int(r["row_number"]): str(r["reason"]) for r in res.quarantine.to_dicts()}


def load(con: duckdb.DuckDBPyConnection, path: Path, **kw: object) -> IngestResult:
    """Through the real pipeline (in-process staging; the sandbox is covered by the pipeline's own tests)."""
    res = ingest_file(con, path, user="tester", isolate=False, **kw)  # type: ignore[arg-type]
    assert res.ok, res.messages
    return res


def count(con: duckdb.DuckDBPyConnection, table: str, where: str = "true") -> int:
    return int(con.sql(f"SELECT count(*) FROM {table} WHERE {where}").fetchall()[0][0])
