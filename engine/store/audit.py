"""Append-only, hash-chained audit trail: each row stores the previous row's hash; `verify` finds tampering."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import duckdb
import polars as pl

from engine.store.sql import frame

GENESIS = "0" * 64


def _row_hash(prev_hash: str, seq: int, actor: str, action: str, entity: str | None,
              entity_id: str | None, detail_json: str) -> str:
    payload = json.dumps([prev_hash, seq, actor, action, entity, entity_id, detail_json], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def record(con: duckdb.DuckDBPyConnection, actor: str, action: str, entity: str | None = None,
           entity_id: str | None = None, detail: dict[str, Any] | None = None) -> int:
    """Append one event; call inside the caller's transaction so the event and the change land together."""
    last = con.execute("SELECT seq, row_hash FROM audit_event ORDER BY seq DESC LIMIT 1").fetchall()
    prev = last[0][1] if last else GENESIS
    seq = int(con.execute("SELECT nextval('audit_seq')").fetchall()[0][0])
    detail_json = json.dumps(detail or {}, sort_keys=True, default=str)
    h = _row_hash(prev, seq, actor, action, entity, entity_id, detail_json)
    con.execute(
        "INSERT INTO audit_event (seq, actor, action, entity, entity_id, detail, prev_hash, row_hash)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [seq, actor, action, entity, entity_id, detail_json, prev, h],
    )
    return seq


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    first_bad_seq: int | None
    problem: str | None


def verify(con: duckdb.DuckDBPyConnection) -> VerifyResult:
    """Re-derive every hash in order: a changed row breaks its own hash, a deleted row breaks the chain."""
    rows = con.execute(
        "SELECT seq, actor, action, entity, entity_id, detail::VARCHAR, prev_hash, row_hash"
        " FROM audit_event ORDER BY seq"
    ).fetchall()
    prev = GENESIS
    for n, (seq, actor, action, entity, entity_id, detail, prev_hash, row_hash) in enumerate(rows):
        if prev_hash != prev:
            return VerifyResult(False, n, seq, f"event {seq}: chain broken (an earlier event was removed or changed)")
        canonical = json.dumps(json.loads(detail), sort_keys=True, default=str)
        if _row_hash(prev_hash, seq, actor, action, entity, entity_id, canonical) != row_hash:
            return VerifyResult(False, n, seq, f"event {seq}: content does not match its hash (row was changed)")
        prev = row_hash
    return VerifyResult(True, len(rows), None, None)


def recent(con: duckdb.DuckDBPyConnection, limit: int = 500) -> pl.DataFrame:
    """Newest events first, for the audit trail page."""
    return frame(con.sql(
        "SELECT seq, event_at, actor, action, entity, entity_id, detail::VARCHAR AS detail, row_hash"
        " FROM audit_event ORDER BY seq DESC LIMIT ?",
        params=[limit],
    ))
