"""Server-side sessions and the lockout on a real DuckDB file, with an injected clock (no sleeping)."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta

import bcrypt
import duckdb
import jwt
import pytest

from engine.access import sessions, users
from engine.access.sessions import SessionRules
from engine.access.users import User
from engine.errors import AccessDenied, NotFound
from engine.store import audit

T0 = datetime(2026, 3, 2, 9, 0, 0)
RULES = SessionRules(max_failures=5, lockout=timedelta(minutes=15), idle=timedelta(minutes=30),
                     lifetime=timedelta(hours=12), touch_every=timedelta(minutes=1))
KEY = "k" * 48
ADMIN = User("ada", "Ada Admin", "admin", None)
FIONA = User("fiona", "Fiona", "finops", None)
PASSWORD = "correct horse battery"


@pytest.fixture
def store(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    pw = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()  # cost 4: a fast test, the same check
    for name, role in (("fiona", "finops"), ("ada", "admin")):
        con.execute("INSERT INTO app_user (username, display_name, role, password_hash) VALUES (?, ?, ?, ?)",
                    [name, name.title(), role, pw])
    return con


def _events(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str, dict[str, object]]]:
    rows = con.execute("SELECT actor, action, entity_id, detail::VARCHAR FROM audit_event "
                       "WHERE action LIKE 'session.%' OR action LIKE 'user.%' ORDER BY seq").fetchall()
    return [(a, b, c, json.loads(d)) for a, b, c, d in rows]


def _sign_in(con: duckdb.DuckDBPyConnection, password: str, at: datetime, name: str = "fiona") -> sessions.Session:
    return sessions.sign_in(con, name, password, rules=RULES, now=at)


def test_open_validate_and_logout(store: duckdb.DuckDBPyConnection) -> None:
    s = _sign_in(store, PASSWORD, T0)
    assert s.username == "fiona" and s.expires_at == T0 + timedelta(hours=12)
    assert sessions.validate(store, s.session_id, rules=RULES, now=T0 + timedelta(minutes=5)) == \
        sessions.Check("live", "fiona")
    # the store never holds the id itself, only its hash
    stored = store.execute("SELECT session_hash FROM app_session").fetchall()
    assert stored == [(sessions.session_hash(s.session_id),)] and s.session_id not in stored[0][0]
    assert sessions.revoke(store, s.session_id, now=T0 + timedelta(minutes=6)) is True
    assert sessions.validate(store, s.session_id, rules=RULES, now=T0 + timedelta(minutes=7)).status == "revoked"
    assert sessions.revoke(store, s.session_id) is False  # a second logout changes nothing
    assert sessions.validate(store, "made-up", rules=RULES, now=T0).status == "unknown"
    assert sessions.validate(store, None, rules=RULES, now=T0).status == "unknown"
    assert [(a, b) for a, b, _, _ in _events(store)] == [("fiona", "session.login"), ("fiona", "session.logout")]
    assert {e for _, _, e, _ in _events(store)} == {s.ref}


def test_idle_timeout_and_touch(store: duckdb.DuckDBPyConnection) -> None:
    s = _sign_in(store, PASSWORD, T0)
    at = T0
    for _ in range(5):  # active every 25 minutes: never idle, though 2 h pass
        at += timedelta(minutes=25)
        assert sessions.validate(store, s.session_id, rules=RULES, now=at).ok
    assert store.execute("SELECT last_seen FROM app_session").fetchall() == [(at,)]
    # seconds later: no write (last_seen moves at most once a minute)
    assert sessions.validate(store, s.session_id, rules=RULES, now=at + timedelta(seconds=30)).ok
    assert store.execute("SELECT last_seen FROM app_session").fetchall() == [(at,)]
    assert sessions.validate(store, s.session_id, rules=RULES, now=at + timedelta(minutes=31)).status == "idle"
    assert sessions.validate(store, s.session_id, rules=RULES, now=at + timedelta(minutes=32)).status == "revoked"
    assert store.execute("SELECT revoked_reason FROM app_session").fetchall() == [("idle timeout",)]
    idle = [e for e in _events(store) if e[1] == "session.idle"]
    assert len(idle) == 1 and idle[0][3]["reason"] == "idle timeout"


def test_absolute_expiry_even_when_active(store: duckdb.DuckDBPyConnection) -> None:
    s = _sign_in(store, PASSWORD, T0)
    at = T0
    while at + timedelta(minutes=20) < T0 + timedelta(hours=12):
        at += timedelta(minutes=20)
        assert sessions.validate(store, s.session_id, rules=RULES, now=at).ok
    assert sessions.validate(store, s.session_id, rules=RULES, now=T0 + timedelta(hours=12)).status == "expired"
    assert [e[1] for e in _events(store)] == ["session.login", "session.expired"]


def test_disabling_a_user_revokes_every_session(store: duckdb.DuckDBPyConnection) -> None:
    a = _sign_in(store, PASSWORD, T0)
    b = _sign_in(store, PASSWORD, T0 + timedelta(minutes=1))  # a second browser
    other = _sign_in(store, PASSWORD, T0, name="ada")
    assert sessions.live_sessions(store, "fiona") == 2
    with pytest.raises(AccessDenied, match=r"fiona \(finops\) cannot disable ada"):
        users.disable_user(store, "ada", FIONA)
    with pytest.raises(NotFound):
        users.disable_user(store, "nobody", ADMIN)
    assert users.disable_user(store, "Fiona ", ADMIN, reason="left the company", now=T0 + timedelta(minutes=2)) == 2
    for s in (a, b):
        assert sessions.validate(store, s.session_id, rules=RULES, now=T0 + timedelta(minutes=3)).status == "revoked"
    assert sessions.validate(store, other.session_id, rules=RULES, now=T0 + timedelta(minutes=3)).ok
    assert users.get_user(store, "fiona") is None  # a disabled user is nobody to every check
    with pytest.raises(AccessDenied, match="disabled"):  # the right password, a disabled account
        _sign_in(store, PASSWORD, T0 + timedelta(minutes=4))
    with pytest.raises(AccessDenied, match="incorrect"):  # a wrong one says nothing about the account
        _sign_in(store, "wrong", T0 + timedelta(minutes=4))
    ev = [e for e in _events(store) if e[1] in ("user.disable", "session.revoked")]
    assert ev == [("ada", "user.disable", "fiona", {"reason": "left the company"}),
                  ("ada", "session.revoked", "fiona", {"reason": "user disabled", "sessions": 2})]
    users.enable_user(store, "fiona", ADMIN)
    assert sessions.validate(store, a.session_id, rules=RULES, now=T0 + timedelta(minutes=5)).status == "revoked"
    assert _sign_in(store, PASSWORD, T0 + timedelta(minutes=5)).username == "fiona"


def test_a_session_of_a_user_disabled_behind_the_engines_back_ends(store: duckdb.DuckDBPyConnection) -> None:
    s = _sign_in(store, PASSWORD, T0)
    store.execute("UPDATE app_user SET disabled_at = ? WHERE username = 'fiona'", [T0])
    assert sessions.validate(store, s.session_id, rules=RULES, now=T0 + timedelta(minutes=1)).status == "disabled"
    assert sessions.validate(store, s.session_id, rules=RULES, now=T0 + timedelta(minutes=2)).status == "revoked"


def test_lockout_after_n_failures_refuses_the_right_password_and_releases(store: duckdb.DuckDBPyConnection) -> None:
    at = T0
    for i in range(4):
        with pytest.raises(AccessDenied, match="^Username or password is incorrect"):
            _sign_in(store, f"guess-{i}", at)
        at += timedelta(seconds=10)
    with pytest.raises(AccessDenied) as locked:  # the fifth failure locks, at 09:00:40 for 15 minutes
        _sign_in(store, "guess-4", at)
    assert str(locked.value) == "Too many failed sign-ins; try again after 09:16 UTC."  # 09:15:40 rounded up
    assert sessions.locked_until(store, "fiona", now=at) == T0 + timedelta(minutes=15, seconds=40)
    with pytest.raises(AccessDenied, match="^Too many failed sign-ins"):  # the right password, while locked
        _sign_in(store, PASSWORD, T0 + timedelta(minutes=15, seconds=39))
    assert sessions.live_sessions(store, "fiona") == 0
    # the lock does not grow with attempts made while locked: released at 09:15:40 as announced
    s = _sign_in(store, PASSWORD, T0 + timedelta(minutes=15, seconds=41))
    assert sessions.validate(store, s.session_id, rules=RULES, now=T0 + timedelta(minutes=16)).ok
    actions = [(e[1], e[3].get("reason"), e[3].get("failures")) for e in _events(store)]
    assert actions == [("session.login_failed", "wrong password", n) for n in (1, 2, 3, 4)] + [
        ("session.login_failed", "wrong password", 5), ("session.locked", None, 5),
        ("session.login_failed", "locked", None), ("session.login", None, None)]
    text = json.dumps(_events(store))
    assert PASSWORD not in text and "guess-" not in text and s.session_id not in text


def test_a_success_resets_the_count(store: duckdb.DuckDBPyConnection) -> None:
    at = T0
    for _ in range(4):
        with pytest.raises(AccessDenied):
            _sign_in(store, "nope", at)
    _sign_in(store, PASSWORD, at)
    for _ in range(4):  # four more failures do not lock: the count started again
        with pytest.raises(AccessDenied, match="incorrect"):
            _sign_in(store, "nope", at)
    assert sessions.locked_until(store, "fiona", now=at) is None
    # after a lock runs out, the count starts again too
    with pytest.raises(AccessDenied, match="Too many"):
        _sign_in(store, "nope", at)
    later = at + timedelta(minutes=16)
    with pytest.raises(AccessDenied, match="incorrect"):
        _sign_in(store, "nope", later)
    assert store.execute("SELECT failures FROM login_guard WHERE username = 'fiona'").fetchall() == [(1,)]


def test_unknown_usernames_lock_like_real_ones(store: duckdb.DuckDBPyConnection) -> None:
    for _ in range(4):
        with pytest.raises(AccessDenied, match="^Username or password is incorrect"):
            _sign_in(store, PASSWORD, T0, name="mallory")
    with pytest.raises(AccessDenied, match="^Too many failed sign-ins"):
        _sign_in(store, PASSWORD, T0, name="mallory")
    assert [e[3]["reason"] for e in _events(store) if e[1] == "session.login_failed"] == ["unknown user"] * 5
    # a row without a bcrypt hash verifies nothing
    store.execute("INSERT INTO app_user (username, display_name, role, password_hash) VALUES "
                  "('hand', 'Hand', 'auditor', 'x')")
    with pytest.raises(AccessDenied, match="incorrect"):
        _sign_in(store, "x", T0, name="hand")


def test_unknown_user_costs_a_bcrypt_check(store: duckdb.DuckDBPyConnection) -> None:
    started = time.perf_counter()
    with pytest.raises(AccessDenied):
        _sign_in(store, "whatever", T0, name="nobody")
    assert time.perf_counter() - started > 0.05  # the dummy hash has cost 12 (~0.2 s); no early return


def test_cookie_carries_only_a_signed_session_id(store: duckdb.DuckDBPyConnection) -> None:
    s = sessions.sign_in(store, "fiona", PASSWORD, rules=RULES)  # the real clock: the cookie's exp is checked
    value = sessions.cookie_value(s, KEY)
    assert sessions.session_id_from_cookie(value, KEY) == s.session_id
    assert jwt.decode(value, options={"verify_signature": False}).keys() == {"sid", "exp"}
    assert sessions.session_id_from_cookie(value, "another key" * 4) is None


def test_malformed_cookies_carry_no_session() -> None:
    future = int(time.time()) + 3600
    none_alg = jwt.encode({"sid": "x", "exp": future}, None, algorithm="none")
    forged = [
        none_alg,
        jwt.encode({"sid": "x"}, KEY, algorithm="HS256"),                              # no exp
        jwt.encode({"sid": "x", "exp": int(time.time()) - 10}, KEY, algorithm="HS256"),  # expired
        jwt.encode({"exp": future}, KEY, algorithm="HS256"),                           # no sid
        jwt.encode({"username": "fiona", "exp_date": future}, KEY, algorithm="HS256"),  # the old cookie format
        jwt.encode({"sid": ["x"], "exp": future}, KEY, algorithm="HS256"),
        jwt.encode({"sid": "x", "exp": future}, KEY * 2, algorithm="HS512"),
        "garbage", "a.b.c", "", "x" * 5000, None, 42,
    ]
    assert [sessions.session_id_from_cookie(v, KEY) for v in forged] == [None] * len(forged)


def test_a_cookie_minted_with_the_cookie_key_opens_nothing(store: duckdb.DuckDBPyConnection) -> None:
    """Whoever reads .streamlit/cookie_key can sign any payload; without a live session record it signs in nobody,
    and the store's hashes are no session ids either."""
    _sign_in(store, PASSWORD, T0)
    future = int(time.time()) + 3600
    for sid in ("fiona", "admin", store.execute("SELECT session_hash FROM app_session").fetchall()[0][0]):
        minted = sessions.session_id_from_cookie(jwt.encode({"sid": sid, "exp": future}, KEY, algorithm="HS256"), KEY)
        assert minted == sid
        assert sessions.validate(store, minted, rules=RULES, now=T0).status == "unknown"


def test_audit_trail_still_verifies_after_session_events(store: duckdb.DuckDBPyConnection) -> None:
    s = _sign_in(store, PASSWORD, T0)
    sessions.revoke(store, s.session_id, now=T0)
    with pytest.raises(AccessDenied):
        _sign_in(store, "nope", T0)
    assert audit.verify(store).ok
