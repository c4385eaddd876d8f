"""The audit trail on real DuckDB files: every way of tampering with a copy of a store is found and reported.

A store with ~50 events is made once through the engine API (rule versions drafted, edited, submitted and approved
by real users); each test copies it with its head file, tampers with the copy the way somebody holding the file
could (plain SQL through a plain DuckDB connection, no Apportion code), and checks what `audit.verify` and
`python -m engine audit verify` say.
"""

from __future__ import annotations

import ast
import csv
import hashlib
import io
import json
import re
import secrets
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from engine import store
from engine.__main__ import main
from engine.errors import ApportionError, ConfigError
from engine.outputs import audit_export
from engine.rules import model, versions
from engine.store import audit

ROOT = Path(__file__).resolve().parents[3]
USERS = [("fiona", "finops"), ("admin", "admin"), ("frank", "finops")]


class Boom(Exception):
    pass


def _rs(name: str, pct: int) -> model.RuleSet:
    return model.from_data({"name": name, "steps": [
        {"id": "a", "name": "A", "method": {"kind": "fixed", "split": {"X": pct, "Y": 100 - pct}}}]})


def _add_users(con: duckdb.DuckDBPyConnection) -> None:
    for username, role in USERS:
        con.execute("INSERT INTO app_user (username, display_name, role, password_hash) VALUES (?, ?, ?, 'x')",
                    [username, username.title(), role])


def _make_events(con: duckdb.DuckDBPyConnection, rounds: int = 12) -> None:
    """4 events a round, all through the engine: draft, edit, submit, approve."""
    for i in range(rounds):
        name = f"rules{i % 3}"
        v = versions.create_draft(con, _rs(name, 40 + i), "fiona", f"round {i}", "2026-01")
        versions.update_draft(con, name, v, _rs(name, 50 + i), "fiona")
        versions.submit(con, name, v, "fiona")
        versions.approve(con, name, v, "admin" if i % 2 else "frank", reason=f"checked round {i}")


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("audit_base") / "store.duckdb"
    con = store.connect(path)
    _add_users(con)
    _make_events(con)
    con.close()  # no verify here: the last write is still "pending" in the head file, as after a real session
    return path


def _n(path: Path) -> int:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return int(con.execute("SELECT count(*) FROM audit_event").fetchall()[0][0])
    finally:
        con.close()


@pytest.fixture
def copy(base: Path, tmp_path: Path) -> Path:
    """A private copy of the store and its head file."""
    dest = tmp_path / "copy.duckdb"
    shutil.copy(base, dest)
    shutil.copy(audit.head_path(base), audit.head_path(dest))
    return dest


def tamper(path: Path, *statements: str, params: list[list[object]] | None = None) -> None:
    """What someone holding the file can do: plain SQL, no Apportion code."""
    con = duckdb.connect(str(path))
    try:
        for i, sql in enumerate(statements):
            con.execute(sql, (params or [])[i] if params and i < len(params) else [])
    finally:
        con.close()


def check(path: Path) -> audit.VerifyResult:
    con = store.connect(path)
    try:
        return audit.verify(con)
    finally:
        con.close()


def kinds(result: audit.VerifyResult) -> list[tuple[int | None, str]]:
    return [(p.seq, p.kind) for p in result.problems]


def cli(path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    capsys.readouterr()
    rc = main(["audit", *(extra or ("verify",)), "--db", str(path)])
    return rc, capsys.readouterr().out


def _rows(path: Path) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute("SELECT seq, event_at, actor, action, entity, entity_id, detail::VARCHAR, prev_hash "
                           "FROM audit_event ORDER BY seq").fetchall()
    finally:
        con.close()


def test_a_clean_copy_verifies(copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    n = _n(copy)
    assert n == 48
    result = check(copy)
    assert result.ok and result.checked == n and result.problems == () and result.legacy == 0
    assert result.verdict() == f"Chain intact: {n} events verified, none changed or removed."
    rc, out = cli(copy, capsys)
    assert rc == 0 and out.splitlines()[0] == result.verdict()


@pytest.mark.parametrize("newest", [1, 10])
def test_deleting_the_newest_events_is_reported(copy: Path, newest: int, capsys: pytest.CaptureFixture[str]) -> None:
    n = _n(copy)
    tamper(copy, f"DELETE FROM audit_event WHERE seq > {n - newest}")
    result = check(copy)
    assert not result.ok and kinds(result) == [(n, "truncated")]
    assert f"ends at #{n - newest} with {n - newest} events" in result.problems[0].message
    assert result.verdict() == f"Audit chain broken: 1 problem found in {n - newest} events."
    rc, out = cli(copy, capsys)
    assert rc == 3 and out.splitlines() == result.lines()


def test_deleting_the_newest_event_after_the_head_settled(copy: Path) -> None:
    assert check(copy).ok  # verify moves the head's tip to the last committed event
    head = json.loads(audit.head_path(copy).read_text())
    assert head["pending"] == [] and head["tip"]["seq"] == 48 and head["tip"]["count"] == 48
    tamper(copy, "DELETE FROM audit_event WHERE seq = 48")
    assert kinds(check(copy)) == [(48, "truncated")]


def test_deleting_every_event_is_reported(copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tamper(copy, "DELETE FROM audit_event")
    result = check(copy)
    assert kinds(result) == [(48, "truncated")] and "the store has no events" in result.problems[0].message
    assert cli(copy, capsys)[0] == 3   # an integrity failure (docs/cli.md)
    tamper(copy, "DELETE FROM audit_checkpoint")  # and the key checkpoint with them
    assert {k for _, k in kinds(check(copy))} == {"truncated", "removed"}


def test_an_edited_timestamp_is_reported_as_such(copy: Path) -> None:
    tamper(copy, "UPDATE audit_event SET event_at = event_at - INTERVAL 3 DAY WHERE seq = 20")
    result = check(copy)
    assert kinds(result) == [(20, "timestamp edited")]


def test_an_edit_rehashed_with_sha256_is_reported_on_every_event(copy: Path) -> None:
    """The attacker edits event 20's detail and recomputes the later hashes with the old unkeyed rule."""
    rows = _rows(copy)
    statements, params = [], []
    prev = None
    for seq, _at, actor, action, entity, entity_id, detail, prev_hash in rows:
        if int(seq) < 20:  # type: ignore[call-overload]
            continue
        d = json.loads(str(detail))
        if seq == 20:
            d["reason"] = "nothing to see"
        text = json.dumps(d, sort_keys=True)
        prev = prev_hash if seq == 20 else prev
        h = audit.legacy_hash(str(prev), int(seq), str(actor), str(action), entity, entity_id, text)  # type: ignore
        statements.append("UPDATE audit_event SET detail = ?, prev_hash = ?, row_hash = ? WHERE seq = ?")
        params.append([text, prev, h, seq])
        prev = h
    tamper(copy, *statements, params=params)
    result = check(copy)
    assert [s for s, _ in kinds(result)] == list(range(20, 49))  # every rewritten event, nothing else
    assert {k for _, k in kinds(result)} == {"changed"}
    assert "plain SHA-256" in result.problems[0].message


def test_an_edit_rehashed_with_a_guessed_key_is_reported_on_every_event(copy: Path) -> None:
    guess = secrets.token_bytes(32)
    rows = _rows(copy)
    statements, params = [], []
    prev = None
    for seq, at, actor, action, entity, entity_id, detail, prev_hash in rows:
        if int(seq) < 30:  # type: ignore[call-overload]
            continue
        d = json.loads(str(detail))
        if seq == 30:
            d["to"] = "approved by nobody"
        text = json.dumps(d, sort_keys=True)
        prev = prev_hash if seq == 30 else prev
        h = audit.event_mac(guess, int(seq), audit.iso(at), str(actor), str(action), entity,  # type: ignore
                            entity_id, text, str(prev))  # type: ignore[arg-type]
        b = audit.body_mac(guess, int(seq), str(actor), str(action), entity, entity_id, text)  # type: ignore
        statements.append("UPDATE audit_event SET detail = ?, prev_hash = ?, row_hash = ?, body_mac = ? "
                          "WHERE seq = ?")
        params.append([text, prev, h, b, seq])
        prev = h
    tamper(copy, *statements, params=params)
    result = check(copy)
    assert kinds(result) == [(s, "changed") for s in range(30, 49)]


def _last_hash(path: Path) -> str:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return str(con.execute("SELECT row_hash FROM audit_event ORDER BY seq DESC LIMIT 1").fetchall()[0][0])
    finally:
        con.close()


def test_a_forged_append_through_raw_insert_is_reported(copy: Path) -> None:
    rows = _rows(copy)
    last_hash = _last_hash(copy)
    fake = hashlib.sha256(b"looks like a hash").hexdigest()
    tamper(copy, "INSERT INTO audit_event (seq, actor, action, entity, entity_id, detail, prev_hash, row_hash) "
                 "VALUES (49, 'admin', 'rule.approve', 'rule_set', 'rules0@99', '{}', ?, ?)",
           params=[[last_hash, fake]])
    result = check(copy)
    assert len(rows) == 48 and kinds(result) == [(49, "forged")]


def test_an_append_with_the_wrong_key_is_refused_or_reported(copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = _n(copy)
    wrong = secrets.token_urlsafe(48)
    monkeypatch.setenv("APPORTION_AUDIT_KEY", wrong)
    con = store.connect(copy)
    try:  # through the engine: refused, nothing written
        with pytest.raises(ConfigError, match="sealed with key"), store.transaction(con):
            audit.record(con, "admin", "rule.approve", "rule_set", "rules0@99")
    finally:
        con.close()
    assert _n(copy) == before
    monkeypatch.undo()
    assert check(copy).ok
    # by someone who re-implements `record` with a key of their own
    key = wrong.encode()
    con = duckdb.connect(str(copy))
    last = con.execute("SELECT row_hash FROM audit_event ORDER BY seq DESC LIMIT 1").fetchall()[0][0]
    at = con.execute("SELECT max(event_at) FROM audit_event").fetchall()[0][0]
    h = audit.event_mac(key, 49, audit.iso(at), "admin", "rule.approve", "rule_set", "rules0@99", "{}", last)
    b = audit.body_mac(key, 49, "admin", "rule.approve", "rule_set", "rules0@99", "{}")
    con.execute("INSERT INTO audit_event VALUES (49, ?, 'admin', 'rule.approve', 'rule_set', 'rules0@99', '{}', ?, ?,"
                " ?)", [at, last, h, b])
    con.close()
    assert kinds(check(copy)) == [(49, "forged")]


def test_an_edit_and_a_deletion_are_both_reported(copy: Path) -> None:
    tamper(copy, "UPDATE audit_event SET actor = 'frank' WHERE seq = 15",
           "DELETE FROM audit_event WHERE seq = 30")
    result = check(copy)
    assert kinds(result) == [(15, "changed"), (31, "removed")]
    assert "between #29 and #31" in result.problems[1].message


def test_reordered_events_are_reported(copy: Path) -> None:
    tamper(copy, "UPDATE audit_event SET seq = -1 WHERE seq = 20",
           "UPDATE audit_event SET seq = 20 WHERE seq = 21",
           "UPDATE audit_event SET seq = 21 WHERE seq = -1")
    result = check(copy)
    assert sorted(kinds(result)) == [(20, "reordered"), (21, "reordered")]
    assert "recorded as #21" in result.problems[0].message


def test_a_changed_or_missing_head_file_is_reported(copy: Path, tmp_path: Path) -> None:
    head = audit.head_path(copy)
    data = json.loads(head.read_text())
    data["tip"] = None
    head.write_text(json.dumps(data))
    assert kinds(check(copy)) == [(None, "head")]
    # A copy without its head file verifies with a note; the store at its own path without one is a break.
    head.unlink()
    result = check(copy)
    assert result.ok and any("no head file beside this store" in n for n in result.notes)
    own = tmp_path / "own" / "s.duckdb"
    con = store.connect(own)
    audit.record(con, "fiona", "x.y")
    con.close()
    audit.head_path(own).unlink()
    assert kinds(check(own)) == [(None, "head")]
    con = store.connect(own)  # writing on does not make the missing head go away
    audit.record(con, "fiona", "x.z")
    result = audit.verify(con)
    con.close()
    assert kinds(result) == [(None, "head")] and "begun again" in result.problems[0].message


def test_a_rolled_back_write_gives_no_false_alarm(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "rb.duckdb"
    con = store.connect(path)
    _add_users(con)
    _make_events(con, rounds=2)
    with pytest.raises(Boom), store.transaction(con):
        audit.record(con, "fiona", "rule.edit", "rule_set", "rules0@1")
        raise Boom
    result = audit.verify(con)
    assert result.ok and result.checked == 8 and result.notes == ()
    with pytest.raises(Boom), store.transaction(con):  # rolled back again, then the connection closed
        audit.record(con, "fiona", "rule.edit", "rule_set", "rules0@1")
        raise Boom
    con.close()
    assert check(path).ok
    rc, out = cli(path, capsys)
    assert rc == 0 and "8 events verified" in out
    assert json.loads(audit.head_path(path).read_text())["pending"] == []
    # the next write carries on from the last committed event
    con = store.connect(path)
    audit.record(con, "fiona", "x.y")
    assert audit.verify(con).ok and audit.verify(con).checked == 9
    con.close()


def test_a_write_in_progress_on_another_thread_is_not_a_break(tmp_path: Path) -> None:
    path = tmp_path / "busy.duckdb"
    con = store.connect(path)
    audit.record(con, "fiona", "x.y")
    started, finish = threading.Event(), threading.Event()

    def writer() -> None:
        cur = con.cursor()
        with store.transaction(cur):
            audit.record(cur, "fiona", "x.z")
            started.set()
            finish.wait(10)
        cur.close()

    t = threading.Thread(target=writer)
    t.start()
    started.wait(10)
    try:
        result = audit.verify(con.cursor())
        assert result.ok and result.checked == 1 and any("being written" in n for n in result.notes)
    finally:
        finish.set()
        t.join(10)
    assert audit.verify(con).checked == 2 and audit.verify(con).ok
    con.close()


def test_concurrent_appends_conflict_instead_of_forking_the_chain(tmp_path: Path) -> None:
    con = store.connect(tmp_path / "two.duckdb")
    a, b = con.cursor(), con.cursor()
    a.execute("BEGIN TRANSACTION")
    b.execute("BEGIN TRANSACTION")
    audit.record(a, "fiona", "first")
    with pytest.raises(ApportionError, match="same moment"):
        audit.record(b, "frank", "second")
    b.execute("ROLLBACK")
    a.execute("COMMIT")
    audit.record(b, "frank", "second")
    result = audit.verify(con)
    assert result.ok and result.checked == 2
    con.close()


def test_key_rotation_needs_the_old_key_and_keeps_old_events_verifiable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = secrets.token_urlsafe(40), secrets.token_urlsafe(40)
    path = tmp_path / "rot.duckdb"
    monkeypatch.setenv("APPORTION_AUDIT_KEY", old)
    con = store.connect(path)
    audit.record(con, "fiona", "before")
    monkeypatch.setenv("APPORTION_AUDIT_KEY", new)
    with pytest.raises(ConfigError, match="to rotate"):
        audit.record(con, "fiona", "after")
    monkeypatch.setenv("APPORTION_AUDIT_KEY", f"{new} {old}")
    audit.record(con, "fiona", "after")
    assert audit.verify(con).ok
    epochs = con.execute("SELECT epoch, first_seq, prev_key_mac IS NOT NULL FROM audit_checkpoint ORDER BY 1")
    assert epochs.fetchall() == [(1, 1, False), (2, 2, True)]  # the refused write consumed nothing
    monkeypatch.setenv("APPORTION_AUDIT_KEY", new)  # the retired key dropped: epoch 1 can no longer be checked
    assert {k for _, k in kinds(audit.verify(con))} == {"forged"}
    con.close()


def test_unkeyed_events_from_before_the_key_are_sealed_not_rewritten(tmp_path: Path) -> None:
    """An existing store: its old SHA-256 events stay as they are; the first keyed event commits to them."""
    path = tmp_path / "legacy.duckdb"
    con = store.connect(path)
    prev = audit.GENESIS
    for seq in range(1, 6):  # what the old `record` wrote
        h = audit.legacy_hash(prev, seq, "fiona", "old", None, None, "{}")
        con.execute("INSERT INTO audit_event (seq, actor, action, detail, prev_hash, row_hash) "
                    "VALUES (?, 'fiona', 'old', '{}', ?, ?)", [seq, prev, h])
        prev = h
    con.execute("SELECT nextval('audit_seq') FROM range(5)").fetchall()  # the sequence moved with them
    audit.record(con, "fiona", "new")
    result = audit.verify(con)
    assert result.ok and result.checked == 6 and result.legacy == 5 and "old unkeyed" in result.notes[0]
    assert con.execute("SELECT first_seq, prev_hash, prev_count FROM audit_checkpoint").fetchall() == [(6, prev, 5)]
    assert con.execute("SELECT count(*) FROM audit_event WHERE body_mac IS NULL").fetchall()[0][0] == 5
    con.close()
    # Rewriting the old events with the old rule no longer passes: the checkpoint sealed their last hash.
    rows = _rows(path)[:5]
    statements, params, p = [], [], audit.GENESIS
    for seq, _at, actor, action, entity, entity_id, detail, _prev in rows:
        d = json.dumps({"edited": True}) if seq == 3 else str(detail)
        text = json.dumps(json.loads(d), sort_keys=True)
        h = audit.legacy_hash(p, int(seq), str(actor), str(action), entity, entity_id, text)  # type: ignore
        statements.append("UPDATE audit_event SET detail = ?, prev_hash = ?, row_hash = ? WHERE seq = ?")
        params.append([text, p, h, seq])
        p = h
    tamper(path, *statements, params=params)
    result = check(path)
    assert not result.ok and {k for _, k in kinds(result)} == {"changed"}
    assert any(s == 6 for s, _ in kinds(result))


def test_the_cli_and_verify_agree(copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tamper(copy, "UPDATE audit_event SET detail = '{\"to\": \"approved\"}' WHERE seq = 8",
           "DELETE FROM audit_event WHERE seq > 45")
    result = check(copy)
    rc, out = cli(copy, capsys)
    assert rc == 3 and out.splitlines() == result.lines()   # an integrity failure (docs/cli.md)
    assert kinds(result) == [(8, "changed"), (48, "truncated")]
    rc, _ = cli(copy, capsys, "--db", str(copy), "verify")  # --db before the subcommand works too
    assert rc == 3


def test_the_cli_reports_a_missing_store_and_a_missing_key(tmp_path: Path, copy: Path,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "verify", "--db", str(tmp_path / "none.duckdb")]) == 2
    from engine import settings as settings_mod

    monkeypatch.delenv("APPORTION_AUDIT_KEY")
    monkeypatch.setattr(settings_mod, "SECRETS_FILE", tmp_path / "none.toml")
    monkeypatch.setattr(settings_mod, "AUDIT_KEY_FILE", tmp_path / "audit_key")
    assert main(["audit", "verify", "--db", str(copy)]) == 2
    assert "No audit key configured" in capsys.readouterr().err
    assert not (tmp_path / "audit_key").exists()  # verifying never invents a key


HOSTILE = ["=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2", "@SUM(A1)", "\tcmd", "\rcmd", "|calc", " =1", "\u00a0@x",
           "  \u00a0+3", "plain"]


def test_export_writes_formula_safe_csv_and_a_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "exp.duckdb"
    con = store.connect(path)
    for text in HOSTILE:
        with store.transaction(con):
            audit.record(con, text, "note", text, text, {"text": text})
    data = audit_export.export_csv(con)
    con.close()
    rows = list(csv.reader(io.StringIO(data.decode(), newline="")))
    assert rows[0] == list(audit_export.EXPORT_COLUMNS) and len(rows) == len(HOSTILE) + 1
    for row, text in zip(rows[1:], HOSTILE, strict=True):
        safe = text if text == "plain" else "'" + text
        assert row[2] == row[4] == row[5] == safe, row
        assert not any(cell.lstrip(" \t\r\n\u00a0").startswith(("=", "+", "-", "@", "|")) for cell in row)
    out = tmp_path / "out" / "trail.csv"
    rc, printed = cli(path, capsys, "export", "--out", str(out))
    assert rc == 0 and out.read_bytes() == data
    summary = (tmp_path / "out" / "trail.summary.txt").read_text()
    assert summary == printed.rsplit("wrote ", 1)[0]
    assert f"Chain intact: {len(HOSTILE)} events verified" in summary
    assert f"trail CSV sha256: {hashlib.sha256(data).hexdigest()}" in summary


_WRITES = re.compile(r"\b(UPDATE\s+audit_event|DELETE\s+FROM\s+audit_event|TRUNCATE\s+(TABLE\s+)?audit_event|"
                     r"DROP\s+TABLE\s+(IF\s+EXISTS\s+)?audit_event|INSERT\s+OR\s+REPLACE\s+INTO\s+audit_event)\b",
                     re.IGNORECASE)


def _sql_texts() -> Iterator[tuple[str, str]]:
    for f in sorted((ROOT / "engine").rglob("*.py")):
        tree = ast.parse(f.read_text(encoding="utf-8"), filename=str(f))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                yield f"{f.relative_to(ROOT)}:{node.lineno}", node.value
            elif isinstance(node, ast.JoinedStr):  # f-strings: their literal parts, joined
                text = "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(
                    v.value, str))
                yield f"{f.relative_to(ROOT)}:{node.lineno}", text
    for f in sorted((ROOT / "engine" / "store" / "migrations").glob("*.sql")):
        yield str(f.relative_to(ROOT)), f.read_text(encoding="utf-8")


def test_no_engine_code_updates_or_deletes_audit_events() -> None:
    """DuckDB has no triggers to refuse it, so the engine must simply never do it (and verify finds it)."""
    hits = [where for where, text in _sql_texts() if _WRITES.search(" ".join(text.split()))]
    assert hits == []
    assert _WRITES.search("DELETE  FROM\n audit_event WHERE seq = 3".replace("\n", " "))  # the check itself works

    # Python joins adjacent literals before the AST sees them, so split SQL is caught too.
    tree = ast.parse('x = ("UPDATE audit_event" " SET detail = 1")')
    assert any(isinstance(n, ast.Constant) and isinstance(n.value, str) and _WRITES.search(n.value)
               for n in ast.walk(tree))


def test_the_first_event_of_a_fresh_install_generates_the_key_file(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from engine import settings as settings_mod

    monkeypatch.delenv("APPORTION_AUDIT_KEY")
    monkeypatch.setattr(settings_mod, "SECRETS_FILE", tmp_path / "none.toml")
    key_file = tmp_path / "streamlit" / "audit_key"
    monkeypatch.setattr(settings_mod, "AUDIT_KEY_FILE", key_file)
    con = store.connect(tmp_path / "fresh.duckdb")
    audit.record(con, "fiona", "x.y")
    assert oct(key_file.stat().st_mode & 0o777) == "0o600" and len(key_file.read_text()) >= 32
    assert settings_mod.ensure_audit_key_file().read_text() == key_file.read_text()  # generated once, then kept
    assert audit.verify(con).ok
    stored = " ".join(str(v) for row in con.execute("SELECT * FROM audit_checkpoint").fetchall() for v in row)
    assert key_file.read_text() not in stored  # the store holds the key's id, never the key
    con.close()
    with pytest.raises(ValidationError):
        settings_mod.Settings(audit_key="short")
    with pytest.raises(ValidationError):
        settings_mod.Settings(audit_key=f"{'k' * 40} short")
