"""The audit trail as a file an auditor takes away: the whole trail as formula-safe CSV (the exports' own
neutralisation, engine/outputs/exports.py) and the verification summary that goes with it (verdict, every break,
the head anchor to note somewhere else). Used by the Audit trail page and `python -m engine audit export`."""

from __future__ import annotations

import csv
import hashlib
import io

import duckdb

from engine.outputs.exports import neutralise
from engine.store import audit

EXPORT_COLUMNS = ("seq", "event_at", "actor", "action", "entity", "entity_id", "detail", "prev_hash", "row_hash")


def export_csv(con: duckdb.DuckDBPyConnection) -> bytes:
    """The whole trail, oldest first, as UTF-8 CSV; every text cell formula-safe."""
    buf = io.StringIO()
    out = csv.writer(buf)  # \r\n rows: a cell holding \r or \n is quoted
    out.writerow(EXPORT_COLUMNS)
    for r in con.execute(
            "SELECT seq, event_at, actor, action, entity, entity_id, detail::VARCHAR, prev_hash, row_hash "
            "FROM audit_event ORDER BY seq").fetchall():
        out.writerow([r[0], audit.iso(r[1]),
                      *(neutralise(v) if isinstance(v, str) else ("" if v is None else v) for v in r[2:])])
    return buf.getvalue().encode("utf-8")


def store_label(con: duckdb.DuckDBPyConnection) -> str:
    """The store's file name (or ":memory:"), for summaries."""
    db = audit.db_path(con)
    return db.name if db is not None else ":memory:"


def summary_text(result: audit.VerifyResult, csv_bytes: bytes, store_name: str) -> str:
    """The verification summary that goes with an export: verdict, every break, the anchor to note elsewhere."""
    lines = [
        "Apportion audit trail: verification summary",
        f"store: {store_name}",
        f"exported (UTC): {audit.iso(audit.now())[:19]}",
        f"audit key: {audit.key_source()}",
        f"head file: {result.head}",
        *([f"head tip: #{result.tip.seq}, {result.tip.count} events, hash {result.tip.hash}"]
          if result.tip is not None else []),
        f"trail CSV sha256: {hashlib.sha256(csv_bytes).hexdigest()}",
        "",
        *result.lines(),
    ]
    return "\n".join(lines) + "\n"
