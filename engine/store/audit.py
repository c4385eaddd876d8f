"""Append-only audit trail, sealed with a key that never lives in the store, anchored by a head file beside it.

Every event's `row_hash` is HMAC-SHA256, under the audit key (setting `audit_key`), of every field: seq, event_at
(ISO text), actor, action, entity, entity_id, detail and prev_hash, the hash of the event before. `body_mac` seals
the content without event_at and prev_hash, so verification can tell "the time was edited" from "the event was
changed".
Whoever holds only the DuckDB file can read the trail but cannot change, insert or re-chain an event so that it
still verifies: recomputing the hashes needs the key.

Events written before the key existed keep their unkeyed SHA-256 hashes; nothing is ever re-sealed, because
re-sealing would launder whatever had been changed before. Instead the first keyed event opens key epoch 1 in
`audit_checkpoint`, whose MAC commits to the last unkeyed hash and the number of unkeyed events, so that unkeyed
history is frozen from then on. Each key rotation opens a further epoch, sealed by the new key and the old one.

A chain alone cannot show that its newest events were deleted. The head file `<store>.audit-head` records, under
the key, the newest event known to be committed (seq, hash, count) and the events written since whose commit has
not been seen yet ("pending"). `record` runs inside the caller's transaction, so it writes its event as pending
before the commit; the head moves its tip only once a later call sees the event committed. A pending event that
is missing from the store is a rolled-back write or a deletion:

- this process wrote it and can prove its transaction is over without a commit (the same connection has moved on
  to another transaction, the connection is closed, or a later event took its place in the chain) → rolled
  back, dropped from the head silently (also at interpreter exit);
- this process wrote it and its transaction may still be open (another thread) → in progress, not a break;
- anything else (another process wrote it, or it is a copy of the store) → reported as truncated or removed. The
  one innocent way to get there is a process killed between `record` and its commit; the message says so.

A committed tip later found missing is kept as "lost"; a head file gone from the store's own place and begun again
says so for good; a head file that fails its seal is left alone as evidence.

DuckDB has no triggers, so nothing can refuse an UPDATE or DELETE on audit_event; the engine never issues one
(tests/unit/store/test_audit_tamper.py reads the engine's SQL to hold it), and `verify` finds the results. It
reports every break it finds (`VerifyResult.problems`), not just the first. docs/security.md has the threat model.
"""

from __future__ import annotations

import atexit
import hashlib
import hmac
import json
import os
import secrets
import threading
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import duckdb
import polars as pl

from engine.errors import ApportionError, ConfigError
from engine.store.sql import frame

GENESIS = "0" * 64
HEAD_SUFFIX = ".audit-head"
_LABEL = "apportion-audit/2"
_HEAD_FORMAT = "apportion-audit-head/1"

Kind = Literal["changed", "removed", "forged", "reordered", "truncated", "timestamp edited", "head"]


# ---------------------------------------------------------------------------------------------------------- keys

def key_id(key: bytes) -> str:
    """A public name for a key (a MAC of a fixed label), stored in checkpoints and the head file instead of it."""
    return hmac.new(key, b"apportion-audit key id", hashlib.sha256).hexdigest()[:16]


@dataclass(frozen=True)
class Keys:
    """The configured audit keys: the first signs, every one verifies the epoch it sealed."""

    keys: tuple[bytes, ...]

    @property
    def signing(self) -> bytes:
        return self.keys[0]

    @property
    def signing_id(self) -> str:
        return key_id(self.keys[0])

    def by_id(self, kid: str | None) -> bytes | None:
        for k in self.keys:
            if key_id(k) == kid:
                return k
        return None

    @classmethod
    def of(cls, *keys: str) -> Keys:
        return cls(tuple(k.encode() for k in keys))


def configured_keys(*, create: bool = False) -> Keys:
    """The keys from the settings (APPORTION_AUDIT_KEY, secrets.toml or the generated .streamlit/audit_key)."""
    from engine.settings import get_settings

    return Keys.of(*get_settings().resolved_audit_keys(create=create))


def key_source() -> str:
    """Where the signing key comes from, for the verification summary (never the key itself)."""
    from engine.settings import AUDIT_KEY_FILE, get_settings

    settings = get_settings()
    if settings.audit_key:
        return "configured (APPORTION_AUDIT_KEY or .streamlit/secrets.toml)"
    return f"generated file .streamlit/{AUDIT_KEY_FILE.name}"


# ---------------------------------------------------------------------------------------------------- the seals

def _canon(values: Sequence[Any]) -> bytes:
    return json.dumps(list(values), ensure_ascii=True, separators=(",", ":"), sort_keys=True).encode()


def iso(at: datetime | None) -> str:
    """event_at as the text the MAC covers."""
    return "" if at is None else at.isoformat(sep=" ", timespec="microseconds")


def event_mac(key: bytes, seq: int, event_at: str, actor: str | None, action: str | None, entity: str | None,
              entity_id: str | None, detail_json: str, prev_hash: str | None) -> str:
    """row_hash of a keyed event: HMAC-SHA256 over every field."""
    payload = _canon([_LABEL, seq, event_at, actor, action, entity, entity_id, detail_json, prev_hash])
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


def body_mac(key: bytes, seq: int, actor: str | None, action: str | None, entity: str | None,
             entity_id: str | None, detail_json: str) -> str:
    """The event's content without event_at and prev_hash: intact while only the time was edited."""
    payload = _canon([_LABEL + " body", seq, actor, action, entity, entity_id, detail_json])
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


def legacy_hash(prev_hash: str | None, seq: int, actor: str | None, action: str | None, entity: str | None,
                entity_id: str | None, detail_json: str) -> str:
    """The unkeyed SHA-256 of events written before the audit key existed (event_at not covered)."""
    payload = json.dumps([prev_hash, seq, actor, action, entity, entity_id, detail_json], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def canonical_detail(detail: Any) -> str:
    return json.dumps(detail if detail is not None else {}, sort_keys=True, default=str)


def _stored_detail(text: str | None) -> str:
    """The detail column as `record` wrote it (DuckDB may re-space JSON; the content is what is sealed)."""
    if text is None:
        return "null"
    try:
        return json.dumps(json.loads(text), sort_keys=True, default=str)
    except ValueError:
        return text


def _checkpoint_payload(epoch: int, first_seq: int, prev_hash: str, prev_count: int, kid: str,
                        store_path: str | None, created_at: str) -> bytes:
    return _canon([_LABEL + " checkpoint", epoch, first_seq, prev_hash, prev_count, kid, store_path, created_at])


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


# ------------------------------------------------------------------------------------------------- the head file

@dataclass
class Pending:
    seq: int
    hash: str
    prev: str
    at: str
    writer: str

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "hash": self.hash, "prev": self.prev, "at": self.at, "writer": self.writer}


@dataclass
class Anchor:
    seq: int
    hash: str
    count: int
    noticed: str = ""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"seq": self.seq, "hash": self.hash, "count": self.count}
        if self.noticed:
            out["noticed"] = self.noticed
        return out


@dataclass
class Head:
    """What the head file holds: the committed tip, writes not yet seen committed, tips later found missing."""

    tip: Anchor | None = None
    pending: list[Pending] = field(default_factory=list)
    lost: list[Anchor] = field(default_factory=list)
    epochs: int = 0
    started: str = ""
    restarted: str = ""  # set when the head had gone missing at the store's own place and was begun again

    def body(self, kid: str) -> dict[str, Any]:
        return {"format": _HEAD_FORMAT, "key_id": kid, "epochs": self.epochs, "started": self.started,
                "restarted": self.restarted,
                "tip": self.tip.as_dict() if self.tip else None,
                "pending": [p.as_dict() for p in self.pending], "lost": [a.as_dict() for a in self.lost]}

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Head:
        tip = data.get("tip")
        return cls(tip=Anchor(**tip) if tip else None, pending=[Pending(**p) for p in data.get("pending", [])],
                   lost=[Anchor(**a) for a in data.get("lost", [])], epochs=int(data.get("epochs", 0)),
                   started=str(data.get("started", "")), restarted=str(data.get("restarted", "")))


@dataclass
class HeadState:
    status: Literal["ok", "missing", "invalid", "memory"]
    path: Path | None
    head: Head | None = None
    problem: str = ""


def head_path(db: Path) -> Path:
    """The head file of a store: beside the DuckDB file, same name plus `.audit-head`."""
    return db.with_name(db.name + HEAD_SUFFIX)


def _head_mac(key: bytes, body: dict[str, Any]) -> str:
    return hmac.new(key, _canon([_LABEL + " head", body]), hashlib.sha256).hexdigest()


def _read_head(db: Path, keys: Keys) -> HeadState:
    path = head_path(db)
    if not path.exists():
        return HeadState("missing", path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        mac = data.pop("mac")
        key = keys.by_id(data.get("key_id"))
        if data.get("format") != _HEAD_FORMAT:
            return HeadState("invalid", path, problem=f"{path.name} is not an audit head file")
        if key is None:
            return HeadState("invalid", path, problem=f"{path.name} is sealed with key {data.get('key_id')}, "
                             "which is not configured (forged, or a retired key is missing from audit_key)")
        if not hmac.compare_digest(str(mac), _head_mac(key, data)):
            return HeadState("invalid", path, problem=f"{path.name} does not match its seal: it was changed or "
                             "forged, so the newest events cannot be checked against it")
        return HeadState("ok", path, Head.parse(data))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        return HeadState("invalid", path, problem=f"{path.name} cannot be read ({type(exc).__name__}): it was "
                         "changed, so the newest events cannot be checked against it")


def _write_head(db: Path, head: Head, keys: Keys) -> None:
    """Atomically: a sibling temp file, fsync, then rename over the head."""
    path = head_path(db)
    body = head.body(keys.signing_id)
    text = json.dumps({**body, "mac": _head_mac(keys.signing, body)}, indent=1, sort_keys=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ConfigError(f"cannot write the audit head file {path}: {exc}; the change was not saved") from exc


# ------------------------------------------------------------------------------- writes this process has made

_WRITER = f"{os.getpid()}-{secrets.token_hex(4)}"
_PID = os.getpid()
_LOCK = threading.RLock()


@dataclass
class _Local:
    """An event this process wrote and has not yet seen committed or rolled back."""

    txid: int
    thread: int
    cursor: weakref.ref[duckdb.DuckDBPyConnection]


_LOCAL: dict[tuple[str, int], _Local] = {}


def _transaction_over(local: _Local, con: duckdb.DuckDBPyConnection) -> bool | None:
    """True when the writing transaction has certainly ended; None when this thread cannot tell."""
    cur = local.cursor()
    if cur is None:
        return True  # collected, hence closed, hence its open transaction rolled back
    if local.thread != threading.get_ident():
        return None  # never touch another thread's connection
    try:
        if cur is not con:  # opening a sibling cursor tells closed from open without touching its results
            cur.cursor().close()
            return None
        txid = cur.execute("SELECT txid_current()").fetchall()[0][0]
    except duckdb.ConnectionException:
        return True
    except duckdb.Error:
        return None
    return bool(txid != local.txid)


def db_path(con: duckdb.DuckDBPyConnection) -> Path | None:
    rows = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchall()
    p = rows[0][0] if rows else None
    if not p or p == ":memory:":
        return None
    return Path(os.path.realpath(p))


def _settle(con: duckdb.DuckDBPyConnection, db: Path, head: Head, *, exiting: bool = False) -> bool:
    """Move the head's tip to the newest pending event seen committed; drop pending writes this process proves
    were rolled back. Returns whether the head changed. Reads through a fresh cursor: committed data only."""
    if not head.pending:
        return False
    view = con.cursor()
    try:
        seqs = [p.seq for p in head.pending]
        prevs = [p.prev for p in head.pending]
        found = view.execute(
            "SELECT seq, row_hash, prev_hash FROM audit_event WHERE list_contains(?, seq) OR list_contains(?, "
            "prev_hash)", [seqs, prevs]).fetchall()
        by_seq = {int(s): h for s, h, _ in found}
        by_prev = {pv: int(s) for s, _, pv in found}
        committed: list[Pending] = []
        keep: list[Pending] = []
        for p in head.pending:
            key = (str(db), p.seq)
            if by_seq.get(p.seq) == p.hash:
                committed.append(p)
                _LOCAL.pop(key, None)
                continue
            local = _LOCAL.get(key) if p.writer == _WRITER else None
            if local is not None and p.seq not in by_seq:
                taken = p.prev in by_prev and by_prev[p.prev] != p.seq  # the append lock lets only one commit
                if exiting or taken or _transaction_over(local, con):
                    _LOCAL.pop(key, None)
                    continue
            keep.append(p)
        changed = len(keep) != len(head.pending)
        if committed:
            newest = max(committed, key=lambda p: p.seq)
            if head.tip is None or newest.seq > head.tip.seq:
                base, since = 0, -1
                if head.tip is not None:
                    old = view.execute("SELECT row_hash FROM audit_event WHERE seq = ?", [head.tip.seq]).fetchall()
                    if not old or old[0][0] != head.tip.hash:
                        head.lost.append(Anchor(head.tip.seq, head.tip.hash, head.tip.count, iso(now())))
                    else:  # carry the count forward, so events deleted below the old tip stay missing from it
                        base, since = head.tip.count, head.tip.seq
                count = base + int(view.execute("SELECT count(*) FROM audit_event WHERE seq > ? AND seq <= ?",
                                                [since, newest.seq]).fetchall()[0][0])
                head.tip = Anchor(newest.seq, newest.hash, count)
        head.pending = keep
        return changed or bool(committed)
    finally:
        view.close()


def _settle_at_exit() -> None:
    """Every transaction of this process is over now: settle the heads it left pending."""
    if os.getpid() != _PID:
        return
    with _LOCK:
        paths = sorted({p for p, _ in _LOCAL})
        _LOCAL.clear()
    for p in paths:
        db = Path(p)
        if not db.exists():
            continue
        try:
            keys = configured_keys()
            con = duckdb.connect(str(db))
        except (duckdb.Error, ApportionError):
            continue
        try:
            with _LOCK:
                state = _read_head(db, keys)
                if state.status == "ok" and state.head is not None:
                    for pending in state.head.pending:
                        if pending.writer == _WRITER:
                            _LOCAL[(p, pending.seq)] = _Local(-1, -1, weakref.ref(con))
                    if _settle(con, db, state.head, exiting=True):
                        _write_head(db, state.head, keys)
                    _LOCAL.clear()
        except (duckdb.Error, ApportionError, OSError):
            pass
        finally:
            con.close()


atexit.register(_settle_at_exit)


# --------------------------------------------------------------------------------------------------- appending

def _open_epoch(con: duckdb.DuckDBPyConnection, keys: Keys, latest: tuple[int, str] | None, first_seq: int,
                prev_hash: str, db: Path | None) -> int:
    """Start a key epoch at `first_seq`: the first keyed event ever, or a rotation authorised by the old key."""
    prev_key = keys.by_id(latest[1]) if latest is not None else None  # record() refused an unknown one
    epoch = latest[0] + 1 if latest else 1
    prev_count = int(con.execute("SELECT count(*) FROM audit_event").fetchall()[0][0])
    created = now()
    payload = _checkpoint_payload(epoch, first_seq, prev_hash, prev_count, keys.signing_id,
                                  str(db) if db else None, iso(created))
    mac = hmac.new(keys.signing, payload, hashlib.sha256).hexdigest()
    rotation = hmac.new(prev_key, payload, hashlib.sha256).hexdigest() if prev_key else None
    con.execute(
        "INSERT INTO audit_checkpoint (epoch, first_seq, prev_hash, prev_count, key_id, store_path, created_at, mac,"
        " prev_key_mac) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [epoch, first_seq, prev_hash, prev_count, keys.signing_id, str(db) if db else None, created, mac, rotation],
    )
    return epoch


def record(con: duckdb.DuckDBPyConnection, actor: str, action: str, entity: str | None = None,
           entity_id: str | None = None, detail: dict[str, Any] | None = None) -> int:
    """Append one sealed event; call inside the caller's transaction so the event and the change land together."""
    keys = configured_keys(create=True)
    cp = con.execute("SELECT epoch, key_id FROM audit_checkpoint ORDER BY epoch DESC LIMIT 1").fetchall()
    latest = (int(cp[0][0]), str(cp[0][1])) if cp else None
    anchored = next((str(r[0]) for r in con.execute(
        "SELECT store_path FROM audit_checkpoint WHERE store_path IS NOT NULL ORDER BY epoch DESC LIMIT 1"
    ).fetchall()), None) if cp else None
    if latest is not None and keys.by_id(latest[1]) is None:
        raise ConfigError(
            f"The audit trail is sealed with key {latest[1]}, but the configured audit key is {keys.signing_id}. "
            "Restore the key that sealed it; to rotate, set audit_key to the new key, a space, then the old one "
            "(docs/security.md). Nothing was saved.")
    try:  # before reading the tip, so two concurrent appends conflict here instead of forking the chain
        con.execute("UPDATE audit_append_lock SET appends = appends + 1, appended_at = ? WHERE id = 1", [now()])
    except duckdb.TransactionException as exc:
        raise ApportionError("Another change was being written to the audit trail at the same moment, so this one "
                             "was not saved: try again.") from exc
    last = con.execute("SELECT seq, row_hash FROM audit_event ORDER BY seq DESC LIMIT 1").fetchall()
    prev = str(last[0][1]) if last else GENESIS
    seq = int(con.execute("SELECT nextval('audit_seq')").fetchall()[0][0])
    db = db_path(con)
    epoch = latest[0] if latest else 0
    if latest is None or latest[1] != keys.signing_id:
        epoch = _open_epoch(con, keys, latest, seq, prev, db)
    at = now()
    detail_json = canonical_detail(detail)
    h = event_mac(keys.signing, seq, iso(at), actor, action, entity, entity_id, detail_json, prev)
    b = body_mac(keys.signing, seq, actor, action, entity, entity_id, detail_json)
    con.execute(
        "INSERT INTO audit_event (seq, event_at, actor, action, entity, entity_id, detail, prev_hash, row_hash,"
        " body_mac) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [seq, at, actor, action, entity, entity_id, detail_json, prev, h, b],
    )
    if db is not None:
        _note_pending(con, db, keys, Pending(seq, h, prev, iso(at), _WRITER), epoch, anchored == str(db))
    return seq


def _note_pending(con: duckdb.DuckDBPyConnection, db: Path, keys: Keys, entry: Pending, epoch: int,
                  home: bool) -> None:
    """Write `entry` into the head as pending. `home`: the store is where its sealed events began, so a missing
    head here is not a fresh copy: the head begun again says so for good."""
    txid = int(con.execute("SELECT txid_current()").fetchall()[0][0])
    with _LOCK:
        _LOCAL[(str(db), entry.seq)] = _Local(txid, threading.get_ident(), weakref.ref(con))
        state = _read_head(db, keys)
        if state.status == "invalid":
            return  # a changed head stays as it is: it is the evidence `verify` reports
        head = state.head
        if head is None:
            head = Head(started=f"#{entry.seq} {entry.at}", restarted=f"#{entry.seq} {entry.at}" if home else "")
        head.pending.append(entry)
        head.epochs = max(head.epochs, epoch)
        _settle(con, db, head)
        _write_head(db, head, keys)


# ------------------------------------------------------------------------------------------------- verification

@dataclass(frozen=True)
class Problem:
    seq: int | None
    kind: Kind
    message: str

    def line(self) -> str:
        return f"{'#' + str(self.seq) if self.seq is not None else 'store'} {self.kind}: {self.message}"


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    first_bad_seq: int | None
    problem: str | None
    problems: tuple[Problem, ...] = ()
    notes: tuple[str, ...] = ()
    legacy: int = 0
    head: str = "memory"
    tip: Anchor | None = None

    def verdict(self) -> str:
        """One sentence, the same on the Audit trail page and from `python -m engine audit verify`."""
        if self.ok:
            return f"Chain intact: {self.checked} events verified, none changed or removed."
        n = len(self.problems)
        return f"Audit chain broken: {n} problem{'s' if n != 1 else ''} found in {self.checked} events."

    def lines(self) -> list[str]:
        return [self.verdict(), *(p.line() for p in self.problems), *(f"note: {n}" for n in self.notes)]


@dataclass(frozen=True)
class _Row:
    seq: int
    at: datetime | None
    actor: str | None
    action: str | None
    entity: str | None
    entity_id: str | None
    detail: str
    prev_hash: str | None
    row_hash: str | None
    body_mac: str | None


@dataclass(frozen=True)
class _Epoch:
    epoch: int
    first_seq: int
    prev_hash: str
    prev_count: int
    key_id: str
    store_path: str | None
    created_at: datetime | None
    mac: str
    prev_key_mac: str | None


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    return {r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ? AND table_schema = 'main' "
        "AND table_catalog = current_database()", [table]).fetchall()}


def _fetch(con: duckdb.DuckDBPyConnection) -> tuple[list[_Row], list[_Epoch]]:
    cols = _columns(con, "audit_event")
    mac_col = "body_mac" if "body_mac" in cols else "NULL"
    rows = [_Row(int(r[0]), r[1], r[2], r[3], r[4], r[5], _stored_detail(r[6]), r[7], r[8], r[9])
            for r in con.execute(
                "SELECT seq, event_at, actor, action, entity, entity_id, detail::VARCHAR, prev_hash, row_hash, "
                f"{mac_col} FROM audit_event ORDER BY seq").fetchall()]
    epochs: list[_Epoch] = []
    if _columns(con, "audit_checkpoint"):
        epochs = [_Epoch(int(r[0]), int(r[1]), r[2], int(r[3]), r[4], r[5], r[6], r[7], r[8])
                  for r in con.execute(
                      "SELECT epoch, first_seq, prev_hash, prev_count, key_id, store_path, created_at, mac, "
                      "prev_key_mac FROM audit_checkpoint ORDER BY first_seq, epoch").fetchall()]
    return rows, epochs


class _Report:
    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.flagged: dict[int, Kind] = {}

    def add(self, seq: int | None, kind: Kind, message: str) -> None:
        if seq is not None:
            if seq in self.flagged and self.flagged[seq] == kind:
                return
            self.flagged.setdefault(seq, kind)
        self.problems.append(Problem(seq, kind, message))


def _check_epochs(epochs: list[_Epoch], keys: Keys, rep: _Report) -> list[tuple[_Epoch, bytes | None]]:
    """Each epoch's seal (and, for a rotation, the previous key's); returns (epoch, key or None if unknown)."""
    out: list[tuple[_Epoch, bytes | None]] = []
    for i, e in enumerate(epochs):
        key = keys.by_id(e.key_id)
        payload = _checkpoint_payload(e.epoch, e.first_seq, e.prev_hash, e.prev_count, e.key_id, e.store_path,
                                      iso(e.created_at))
        if e.epoch != i + 1:
            rep.add(e.first_seq, "removed", f"key epochs are not numbered 1, 2, …: epoch {e.epoch} is at position "
                    f"{i + 1} (a checkpoint was removed or added)")
        if key is None:
            rep.add(e.first_seq, "forged", f"key epoch {e.epoch} (from event #{e.first_seq}) names key {e.key_id}, "
                    "which is not configured: a forged checkpoint, or a retired key missing from audit_key; its "
                    "events cannot be verified")
        elif not hmac.compare_digest(e.mac, hmac.new(key, payload, hashlib.sha256).hexdigest()):
            rep.add(e.first_seq, "forged", f"key epoch {e.epoch} (from event #{e.first_seq}) does not match its seal: "
                    "the checkpoint was changed or forged")
        if i > 0:
            prev_key = out[i - 1][1]
            if prev_key is not None and not (e.prev_key_mac and hmac.compare_digest(
                    e.prev_key_mac, hmac.new(prev_key, payload, hashlib.sha256).hexdigest())):
                rep.add(e.first_seq, "forged", f"key epoch {e.epoch} (from event #{e.first_seq}) was not authorised "
                        "by the previous key: a key change nobody holding the old key made")
        out.append((e, key))
    return out


def _verifies(row: _Row, seq: int, key: bytes | None) -> bool:
    if key is None:
        return row.row_hash == legacy_hash(row.prev_hash, seq, row.actor, row.action, row.entity, row.entity_id,
                                           row.detail)
    return hmac.compare_digest(str(row.row_hash), event_mac(key, seq, iso(row.at), row.actor, row.action,
                                                            row.entity, row.entity_id, row.detail, row.prev_hash))


def _unkeyed(row: _Row) -> bool:
    """Was row_hash recomputed without the key (the old SHA-256 rule, or plain SHA-256 of the sealed fields)?"""
    plain = hashlib.sha256(_canon([_LABEL, row.seq, iso(row.at), row.actor, row.action, row.entity, row.entity_id,
                                   row.detail, row.prev_hash])).hexdigest()
    return row.row_hash in (plain, legacy_hash(row.prev_hash, row.seq, row.actor, row.action, row.entity,
                                               row.entity_id, row.detail))


def _analyse(rows: list[_Row], epochs: list[_Epoch], keys: Keys, state: HeadState,
             db: Path | None, in_progress: set[int]) -> VerifyResult:
    rep = _Report()
    notes: list[str] = []
    sealed = _check_epochs(epochs, keys, rep)
    starts = [e.first_seq for e, _ in sealed]
    head = state.head if state.status == "ok" else None
    known_max: int | None = None  # the newest event the head file knows of
    if head is not None:
        known_max = max([*([head.tip.seq] if head.tip else []), *(p.seq for p in head.pending),
                         *(a.seq for a in head.lost)], default=None)

    def era(seq: int) -> tuple[bool, bytes | None, bool]:
        """(keyed, key, key known) for the epoch holding seq."""
        idx = -1
        for i, s in enumerate(starts):
            if s <= seq:
                idx = i
        if idx < 0:
            return False, None, True
        key = sealed[idx][1]
        return True, key, key is not None

    # Pass 1: each row's own seal, and under which seq it was sealed (a moved row verifies under its old seq).
    logical: dict[int, int] = {}
    intact: dict[int, bool] = {}
    orphans: list[int] = []
    seqs = [r.seq for r in rows]
    for i, r in enumerate(rows):
        keyed, key, known = era(r.seq)
        if keyed and not known:
            intact[r.seq] = True  # reported once per epoch above
            logical[r.seq] = r.seq
            continue
        if _verifies(r, r.seq, key):
            intact[r.seq] = True
            logical[r.seq] = r.seq
            continue
        if not keyed and any(_verifies(r, r.seq, k) for k in keys.keys):
            intact[r.seq] = True  # a sealed event that no key epoch covers: its checkpoint went (reported below)
            logical[r.seq] = r.seq
            orphans.append(r.seq)
            continue
        intact[r.seq] = False
        moved = next((s for s in seqs[max(0, i - 8):i + 9] if s != r.seq and _verifies(r, s, key)), None)
        if moved is not None:
            logical[r.seq] = moved
            rep.add(r.seq, "reordered", f"the event now at #{r.seq} was recorded as #{moved}: events were moved")
    order = sorted(rows, key=lambda r: (logical.get(r.seq, r.seq), r.seq))

    # Pass 2: classify the rows whose seal fails.
    for pos, r in enumerate(order):
        if intact[r.seq] or r.seq in logical:
            continue
        keyed, key, _known = era(r.seq)
        beyond = known_max is not None and r.seq > known_max
        if not keyed:
            rep.add(r.seq, "changed", "its content does not match its hash (an event written before the audit key)")
            continue
        assert key is not None
        body_ok = r.body_mac is not None and hmac.compare_digest(
            r.body_mac, body_mac(key, r.seq, r.actor, r.action, r.entity, r.entity_id, r.detail))
        before_ok = pos == 0 or intact[order[pos - 1].seq]
        if body_ok and before_ok:
            rep.add(r.seq, "timestamp edited", f"its time was changed (now {iso(r.at)}); the rest is as recorded")
        elif _unkeyed(r):
            kind: Kind = "forged" if beyond or r.body_mac is None else "changed"
            rep.add(r.seq, kind, "its hash was recomputed with plain SHA-256, without the audit key"
                    + (": added straight into the table" if kind == "forged" else ": the event was changed"))
        elif beyond or r.body_mac is None:
            rep.add(r.seq, "forged", "not sealed with the audit key: added straight into the table, not recorded "
                    "by Apportion")
        elif body_ok:
            rep.add(r.seq, "changed", "its content is as recorded but its seal no longer matches: its time, or its "
                    "link to the changed event before it, was rewritten")
        else:
            rep.add(r.seq, "changed", "its content does not match its seal: the event was changed")

    # Pass 3: the links, in recorded order.
    position = {r.row_hash: i for i, r in enumerate(order)}
    gaps: list[tuple[int | None, int]] = []
    expected = GENESIS
    boundary = {e.first_seq: e.prev_hash for e, _ in sealed}
    for pos, r in enumerate(order):
        if r.prev_hash != expected and boundary.get(r.seq) == r.prev_hash:
            pass  # the epoch's seal vouches for this link: the events before it changed (reported below)
        elif r.prev_hash != expected:
            prior = order[pos - 1] if pos else None
            j = position.get(r.prev_hash)
            if j is not None and j > pos:
                rep.add(r.seq, "reordered", f"event #{r.seq} chains from #{order[j].seq}, which comes after it")
            elif j is not None and j < pos - 1:
                for extra in order[j + 1:pos]:
                    rep.add(extra.seq, "forged", f"event #{extra.seq} is not part of the chain: it was inserted "
                            f"between #{order[j].seq} and #{r.seq}")
            elif prior is not None and not intact[prior.seq] and j is None:
                pass  # explained by the change already reported on the event before
            else:
                gaps.append((prior.seq if prior else None, r.seq))
                where = f"between #{prior.seq} and #{r.seq}" if prior else f"before #{r.seq}"
                rep.add(r.seq, "removed", f"events {where} were removed: #{r.seq} chains from an event that is not "
                        "in the store")
        expected = str(r.row_hash)

    # The epochs: each seals the end of the era before it (a checkpoint whose own seal failed vouches for nothing).
    forged_epochs = {p.seq for p in rep.problems if p.kind == "forged" and "key epoch" in p.message}
    for e, _key in sealed:
        if e.first_seq in forged_epochs:
            continue
        before = [r for r in order if r.seq < e.first_seq]
        last_hash = before[-1].row_hash if before else GENESIS
        if last_hash != e.prev_hash and not any(not intact[r.seq] for r in before[-1:]):
            rep.add(e.first_seq, "changed" if len(before) == e.prev_count else "removed",
                    f"the {e.prev_count} events before key epoch {e.epoch} no longer end with the event it sealed: "
                    "earlier events were changed or removed")
        elif len(before) != e.prev_count:
            rep.add(e.first_seq, "removed" if len(before) < e.prev_count else "forged",
                    f"key epoch {e.epoch} sealed {e.prev_count} events before #{e.first_seq}; the store has "
                    f"{len(before)}")
    if orphans:
        rep.add(orphans[0], "removed", f"{len(orphans)} sealed events from #{orphans[0]} on belong to no key epoch: "
                "their key checkpoint was removed")
    legacy = sum(1 for r in rows if not era(r.seq)[0]) - len(orphans)
    if legacy:
        notes.append(f"{legacy} events were written before the audit key existed: they are checked with the old "
                     "unkeyed SHA-256 rule and their times are not sealed")

    # The head file: the newest events must still be there.
    present = {r.seq: r.row_hash for r in rows}
    last_seq = rows[-1].seq if rows else None
    if state.status == "memory":
        notes.append("in-memory store: there is no head file, so deleting the newest events cannot be detected")
    elif state.status == "missing":
        anchored = next((e.store_path for e in reversed(epochs) if e.store_path), None)
        if anchored is not None and db is not None and anchored == str(db):
            rep.add(None, "head", f"the head file {head_path(db).name} is missing: the newest events may have been "
                    "deleted with it")
        elif epochs:
            notes.append("no head file beside this store (a copy or a moved store): deleting the newest events "
                         "cannot be ruled out here; copy the .audit-head file with the store")
        elif rows:
            notes.append("no head file yet: it is written with the first sealed event")
    elif state.status == "invalid":
        rep.add(None, "head", state.problem)
    if head is not None:
        if head.restarted:
            rep.add(None, "head", f"the head file had gone missing and was begun again with event "
                    f"{head.restarted[:20]} UTC: events deleted before then cannot be ruled out")
        if head.epochs > len(epochs):
            rep.add(None, "removed", f"the head file knows {head.epochs} key epochs; the store has {len(epochs)}: "
                    "key checkpoints were removed")
        recorded: list[tuple[int, str, str, bool]] = []  # seq, hash, what, only pending (commit never seen)
        if head.tip is not None:
            recorded.append((head.tip.seq, head.tip.hash, f"the committed tip ({head.tip.count} events)", False))
            got = sum(1 for s in present if s <= head.tip.seq)
            explained = any(p.kind in ("removed", "forged") and p.seq is not None and p.seq <= head.tip.seq
                            for p in rep.problems)
            if head.tip.seq in present and got != head.tip.count and not explained:
                rep.add(head.tip.seq, "removed" if got < head.tip.count else "forged",
                        f"the head file records {head.tip.count} events up to #{head.tip.seq}; the store has {got}")
        for a in head.lost:  # a tip found missing when a later event was committed: deleted, then continued
            if a.seq in present and present[a.seq] != a.hash:
                if a.seq not in rep.flagged:
                    rep.add(a.seq, "changed", f"event #{a.seq} is not the event the head file recorded")
            elif a.seq not in present:
                got = sum(1 for s in present if s <= a.seq)
                rep.add(a.seq, "truncated", f"the newest events were deleted and the trail continued after them: "
                        f"the head file recorded {a.count} events up to #{a.seq}, the store has {got} of them "
                        f"(noticed {a.noticed[:19]} UTC)")
        recorded += [(p.seq, p.hash, f"written on {p.at[:19]} UTC", True) for p in head.pending
                     if p.seq not in in_progress]
        if in_progress:
            notes.append(f"{len(in_progress)} event(s) being written by this process right now")
        missing_top: list[tuple[int, bool]] = []
        for seq, h, what, pending_only in recorded:
            if seq in present:
                if present[seq] != h and seq not in rep.flagged:
                    rep.add(seq, "changed", f"event #{seq} is not the event the head file recorded ({what})")
            elif last_seq is None or seq > last_seq:
                missing_top.append((seq, pending_only))
            elif not any((lo is None or lo < seq) and seq < hi for lo, hi in gaps):
                rep.add(seq, "removed", f"event #{seq}, {what}, is missing from the store"
                        + (" (deleted, or the app was killed before committing it)" if pending_only else ""))
        if missing_top:
            top = max(s for s, _ in missing_top)
            ends = f"the store ends at #{last_seq} with {len(rows)} events" if rows else "the store has no events"
            crash = all(pending_only for _, pending_only in missing_top)
            rep.add(top, "truncated", f"the newest events were deleted: the head file records events up to #{top}; "
                    f"{ends}" + (" (or the app was killed before committing its last write)" if crash else ""))
        unknown = [r.seq for r in rows if known_max is not None and r.seq > known_max and intact[r.seq]]
        if unknown:
            notes.append(f"{len(unknown)} sealed event(s) after the head file's last record (written while the head "
                         "could not be updated)")

    problems = tuple(sorted(rep.problems, key=lambda p: (p.seq is None, p.seq or 0)))
    bad = [p.seq for p in problems if p.seq is not None]
    return VerifyResult(ok=not problems, checked=len(rows), first_bad_seq=min(bad) if bad else None,
                        problem=problems[0].line() if problems else None, problems=problems, notes=tuple(notes),
                        legacy=legacy, head=state.status, tip=head.tip if head else None)


def verify(con: duckdb.DuckDBPyConnection) -> VerifyResult:
    """Check every seal, every link, the key epochs and the head file; report every break found.

    Also settles the head file (moves its tip to pending events now committed), which only ever adds evidence."""
    keys = configured_keys()
    db = db_path(con)
    state = HeadState("memory", None) if db is None else _read_head(db, keys)
    in_progress: set[int] = set()
    if db is not None and state.status == "ok" and state.head is not None:
        with _LOCK:
            state = _read_head(db, keys)
            if state.head is not None and _settle(con, db, state.head):
                _write_head(db, state.head, keys)
            if state.head is not None:
                in_progress = {p.seq for p in state.head.pending if (str(db), p.seq) in _LOCAL}
    rows, epochs = _fetch(con)
    return _analyse(rows, epochs, keys, state, db, in_progress)


# ----------------------------------------------------------------------------------------- reading and exporting

_EVENT_COLS = "seq, event_at, actor, action, entity, entity_id, detail::VARCHAR AS detail, row_hash"


def recent(con: duckdb.DuckDBPyConnection, limit: int = 500) -> pl.DataFrame:
    """Newest events first."""
    return events(con, limit=limit)


def events(con: duckdb.DuckDBPyConnection, *, actors: Iterable[str] = (), actions: Iterable[str] = (),
           entities: Iterable[str] = (), start: date | None = None, end: date | None = None,
           limit: int = 5000) -> pl.DataFrame:
    """Newest events first, filtered by actor, action, entity kind and the days (inclusive) they happened on."""
    where: list[str] = []
    params: list[Any] = []
    for column, values in (("actor", list(actors)), ("action", list(actions)), ("entity", list(entities))):
        if values:
            where.append(f"list_contains(?, {column})")
            params.append(values)
    if start is not None:
        where.append("event_at >= ?")
        params.append(datetime(start.year, start.month, start.day))
    if end is not None:
        where.append("event_at < ?")
        params.append(datetime(end.year, end.month, end.day) + timedelta(days=1))
    sql = f"SELECT {_EVENT_COLS} FROM audit_event"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return frame(con.sql(sql + " ORDER BY seq DESC LIMIT ?", params=[*params, limit]))


@dataclass(frozen=True)
class Facets:
    actors: list[str]
    actions: list[str]
    entities: list[str]
    first: date | None
    last: date | None


def facets(con: duckdb.DuckDBPyConnection) -> Facets:
    """The values the Audit trail page offers as filters."""
    def distinct(col: str) -> list[str]:
        return [r[0] for r in con.execute(
            f"SELECT DISTINCT {col} FROM audit_event WHERE {col} IS NOT NULL ORDER BY 1").fetchall()]

    lo, hi = con.execute("SELECT min(event_at)::DATE, max(event_at)::DATE FROM audit_event").fetchall()[0]
    return Facets(distinct("actor"), distinct("action"), distinct("entity"), lo, hi)
