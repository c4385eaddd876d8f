"""Master-data batches: effective-dated changes to who owns what (an application's cost centre, a cost centre's
business unit, an account's owner), applied together, audited, and undoable.

A batch never overwrites history: each change records the value it replaced, so the org as of any month can be
rebuilt (engine/masterdata/as_of.py) and a recompute of an earlier month uses the org that was in force then.
Rules that keep that true:

- changes on one field of one entity are applied in effective order: a batch may not take effect before a
  (non-reverted) batch that already changed the same field later — revert that one first;
- a change must change something and name a real target (a cost centre for `cost_center_id`, a business unit for
  `parent_id`, an application for `app_id`);
- only the newest batch on each field it touched can be reverted, so undo runs in reverse order;
- the result names the posted months the batch affects (they keep their runs; a re-run posts a new one beside).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from engine.errors import InputError, NotFound
from engine.masterdata.as_of import ENTITIES, check_period
from engine.store import audit, transaction
from engine.store.sql import query


@dataclass(frozen=True)
class Change:
    entity: str          # application, org_unit, account_owner
    key: str             # app_id, unit_id, or provider/sub_account_id
    field: str
    value: str | None


@dataclass(frozen=True)
class AppliedChange:
    entity: str
    key: str
    field: str
    old_value: str | None
    new_value: str | None


@dataclass(frozen=True)
class BatchResult:
    batch_no: int
    effective_from: str
    changes: tuple[AppliedChange, ...]
    posted_periods_affected: tuple[str, ...]   # posted months on or after effective_from (re-run to apply)


def _key_where(entity: str) -> str:
    return " AND ".join(f"{c} = ?" for c in ENTITIES[entity].key_columns)


def _key_params(entity: str, key: str) -> list[str]:
    cols = ENTITIES[entity].key_columns
    if len(cols) == 1:
        return [key]
    provider, sep, sub = key.partition("/")
    if not sep or not provider or not sub:
        raise InputError(f"an account owner's key is provider/sub_account_id, not {key!r}")
    return [provider, sub]


def _current(con: duckdb.DuckDBPyConnection, c: Change) -> str | None:
    spec = ENTITIES.get(c.entity)
    if spec is None:
        raise InputError(f"master data entity must be one of {', '.join(ENTITIES)}, not {c.entity!r}")
    if c.field not in spec.fields:
        raise InputError(f"{c.entity}.{c.field} cannot be changed by a batch; changeable: {', '.join(spec.fields)}")
    rows = con.execute(f"SELECT {c.field} FROM {spec.table} WHERE {_key_where(c.entity)}",
                       _key_params(c.entity, c.key)).fetchall()
    if not rows:
        raise NotFound(f"no {c.entity} {c.key!r}")
    value = rows[0][0]
    return None if value is None else str(value)


def _check_target(con: duckdb.DuckDBPyConnection, c: Change) -> None:
    value = c.value
    if c.field == "cost_center_id":
        if value is None or not con.execute("SELECT 1 FROM org_unit WHERE unit_id = ? AND kind = 'cost_center'",
                                            [value]).fetchall():
            raise InputError(f"{c.entity} {c.key}: {value!r} is not a cost centre")
    elif c.field == "parent_id":
        kind = con.execute("SELECT kind FROM org_unit WHERE unit_id = ?", [c.key]).fetchall()
        if kind and kind[0][0] != "cost_center":
            raise InputError(f"{c.key} is a business unit: only a cost centre's business unit can change")
        if value is None or not con.execute("SELECT 1 FROM org_unit WHERE unit_id = ? AND kind = 'business_unit'",
                                            [value]).fetchall():
            raise InputError(f"{c.entity} {c.key}: {value!r} is not a business unit")
    elif c.field == "app_id" and value is not None:
        if not con.execute("SELECT 1 FROM application WHERE app_id = ?", [value]).fetchall():
            raise InputError(f"{c.entity} {c.key}: {value!r} is not an application")


def _later_batch(con: duckdb.DuckDBPyConnection, c: Change, effective_from: str) -> int | None:
    rows = con.execute(
        "SELECT max(b.batch_no) FROM master_data_change ch JOIN master_data_batch b ON b.batch_no = ch.batch_no"
        " WHERE b.reverted_at IS NULL AND ch.entity = ? AND ch.entity_key = ? AND ch.field = ?"
        " AND b.effective_from > ?", [c.entity, c.key, c.field, effective_from]).fetchall()
    return None if rows[0][0] is None else int(rows[0][0])


def apply_batch(con: duckdb.DuckDBPyConnection, changes: Sequence[Change], effective_from: str, actor: str,
                reason: str) -> BatchResult:
    """Apply `changes` from `effective_from` (YYYY-MM) on, in one transaction with its audit event."""
    check_period(effective_from)
    if not reason or not reason.strip():
        raise InputError("a master-data batch needs a reason: it goes to the audit trail")
    if not actor or not actor.strip():
        raise InputError("a master-data batch needs the name of who applies it")
    if not changes:
        raise InputError("a master-data batch needs at least one change")
    seen: set[tuple[str, str, str]] = set()
    applied: list[AppliedChange] = []
    for c in changes:
        if (c.entity, c.key, c.field) in seen:
            raise InputError(f"{c.entity} {c.key}.{c.field} is changed twice in one batch")
        seen.add((c.entity, c.key, c.field))
        old = _current(con, c)
        _check_target(con, c)
        if old == c.value:
            raise InputError(f"{c.entity} {c.key}: {c.field} is already {c.value!r}")
        later = _later_batch(con, c, effective_from)
        if later is not None:
            raise InputError(f"{c.entity} {c.key}.{c.field} was already changed by batch {later}, effective after "
                             f"{effective_from}: revert it before changing the field from an earlier month")
        applied.append(AppliedChange(c.entity, c.key, c.field, old, c.value))
    affected = tuple(str(r[0]) for r in con.execute(
        "SELECT DISTINCT period FROM allocation_run WHERE status = 'posted' AND period >= ? ORDER BY 1",
        [effective_from]).fetchall())
    with transaction(con):
        batch_no = int(con.execute(
            "INSERT INTO master_data_batch (effective_from, reason, created_by) VALUES (?, ?, ?) RETURNING batch_no",
            [effective_from, reason.strip(), actor.strip()]).fetchall()[0][0])
        for seq, a in enumerate(applied, start=1):
            con.execute("INSERT INTO master_data_change VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [batch_no, seq, a.entity, a.key, a.field, a.old_value, a.new_value])
            con.execute(f"UPDATE {ENTITIES[a.entity].table} SET {a.field} = ? WHERE {_key_where(a.entity)}",
                        [a.new_value, *_key_params(a.entity, a.key)])
        audit.record(con, actor.strip(), "masterdata.apply", "master_data_batch", str(batch_no), {
            "effective_from": effective_from, "reason": reason.strip(),
            "changes": [[a.entity, a.key, a.field, a.old_value, a.new_value] for a in applied],
            "posted_periods_affected": list(affected)})
    return BatchResult(batch_no, effective_from, tuple(applied), affected)


def revert_batch(con: duckdb.DuckDBPyConnection, batch_no: int, actor: str, reason: str) -> BatchResult:
    """Undo a batch: its fields get back the values it replaced, for every month. Only the newest batch on each
    field it touched can be reverted."""
    if not reason or not reason.strip():
        raise InputError("reverting a master-data batch needs a reason")
    head = con.execute("SELECT effective_from, reverted_at FROM master_data_batch WHERE batch_no = ?",
                       [batch_no]).fetchall()
    if not head:
        raise NotFound(f"no master-data batch {batch_no}")
    if head[0][1] is not None:
        raise InputError(f"master-data batch {batch_no} is already reverted")
    effective_from = str(head[0][0])
    changes = changes_of(con, batch_no)
    for a in changes:
        newer = con.execute(
            "SELECT max(b.batch_no) FROM master_data_change ch JOIN master_data_batch b ON b.batch_no = ch.batch_no"
            " WHERE b.reverted_at IS NULL AND ch.entity = ? AND ch.entity_key = ? AND ch.field = ?"
            " AND (b.effective_from > ? OR (b.effective_from = ? AND b.batch_no > ?))",
            [a.entity, a.key, a.field, effective_from, effective_from, batch_no]).fetchall()[0][0]
        if newer is not None:
            raise InputError(f"batch {newer} changed {a.entity} {a.key}.{a.field} after batch {batch_no}: "
                             "revert it first")
    affected = tuple(str(r[0]) for r in con.execute(
        "SELECT DISTINCT period FROM allocation_run WHERE status = 'posted' AND period >= ? ORDER BY 1",
        [effective_from]).fetchall())
    with transaction(con):
        for a in changes:
            con.execute(f"UPDATE {ENTITIES[a.entity].table} SET {a.field} = ? WHERE {_key_where(a.entity)}",
                        [a.old_value, *_key_params(a.entity, a.key)])
        con.execute("UPDATE master_data_batch SET reverted_by = ?, reverted_at = current_timestamp,"
                    " revert_reason = ? WHERE batch_no = ?", [actor, reason.strip(), batch_no])
        audit.record(con, actor, "masterdata.revert", "master_data_batch", str(batch_no),
                     {"reason": reason.strip(), "posted_periods_affected": list(affected)})
    return BatchResult(batch_no, effective_from, changes, affected)


def changes_of(con: duckdb.DuckDBPyConnection, batch_no: int) -> tuple[AppliedChange, ...]:
    rows = con.execute("SELECT entity, entity_key, field, old_value, new_value FROM master_data_change"
                       " WHERE batch_no = ? ORDER BY seq", [batch_no]).fetchall()
    return tuple(AppliedChange(*(None if v is None else str(v) for v in r)) for r in rows)  # type: ignore[arg-type]


def list_batches(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every batch, newest first, with its change count and whether it was reverted."""
    return query(con, "SELECT b.batch_no, b.effective_from, b.reason, b.created_by, b.created_at, b.reverted_by,"
                      " b.reverted_at, b.revert_reason, count(c.seq) AS changes FROM master_data_batch b"
                      " LEFT JOIN master_data_change c ON c.batch_no = b.batch_no GROUP BY ALL"
                      " ORDER BY b.batch_no DESC")


CSV_COLUMNS = ("entity", "key", "field", "value")


def read_changes_csv(path: Path) -> list[Change]:
    """A batch file: columns entity,key,field,value (an empty value clears an optional field such as app_id)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path.name}: cannot read it as UTF-8 text ({exc})") from exc
    reader = csv.DictReader(io.StringIO(text))
    header = tuple(h.strip() for h in (reader.fieldnames or ()))
    if header != CSV_COLUMNS:
        raise InputError(f"{path.name}: the header must be {','.join(CSV_COLUMNS)}, not {','.join(header) or 'empty'}")
    out: list[Change] = []
    for row_no, row in enumerate(reader, start=2):
        missing = [c for c in ("entity", "key", "field") if not (row.get(c) or "").strip()]
        if missing:
            raise InputError(f"{path.name}, row {row_no}: column {missing[0]} is empty")
        value = (row.get("value") or "").strip()
        out.append(Change(row["entity"].strip(), row["key"].strip(), row["field"].strip(), value or None))
    return out
