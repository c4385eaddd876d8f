"""Single sign-on: the claims of an OpenID Connect identity turned into an Apportion user (docs/security.md).

Streamlit's `st.login` does the OIDC dance and keeps the identity provider's claims in its own signed, HttpOnly
cookie; `ui/auth.py` hands those claims here on every script run. What is trusted is the provider's word about who
the person is and which role and cost centres they hold (the claims named by the `sso_*` settings); nothing from
the browser is. On every run:

- the username comes from `sso_username_claim` (else `sso_username_fallback_claim`), normalised like the password
  form's (trimmed, lower case);
- the role claim must name one of `ROLES`, and an app owner's scope claim (a list, or a comma-separated string)
  must name at least one cost centre, every one of them real — anything else is refused with the reason;
- an unknown user is created just in time (`sso_create_users`), with a random bcrypt hash nobody knows as the
  password, so the password form never opens that account; a known user whose role, scope, name or e-mail differ
  from the claims is updated to match them. Both are audited (`user.sso_provisioned`, `user.sso_updated` with
  before and after); a run whose claims match the store writes nothing;
- a disabled user is refused every time, whatever the claims say: only an administrator re-enables an account;
- a sign-in older than `cookie_expiry_days` (the token's `iat`) is refused, so an SSO sign-in ends no later than a
  password session does.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import bcrypt
import duckdb

from engine.access import sessions
from engine.access.users import ROLES, User, get_user
from engine.errors import AccessDenied
from engine.store import audit, transaction

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@+-]*$")
SSO_ACTOR = "sso"  # the audit actor of changes the identity provider's claims made


@dataclass(frozen=True)
class ClaimNames:
    """Which claims carry what; `from_settings` reads them from engine/settings.py."""

    username: str = "preferred_username"
    username_fallback: str = "email"
    role: str = "apportion_role"
    scope: str = "cost_centers"
    create_users: bool = True
    max_age: timedelta = timedelta(days=0.5)

    @classmethod
    def from_settings(cls) -> ClaimNames:
        from engine.settings import get_settings

        s = get_settings()
        return cls(username=s.sso_username_claim, username_fallback=s.sso_username_fallback_claim,
                   role=s.sso_role_claim, scope=s.sso_scope_claim, create_users=s.sso_create_users,
                   max_age=timedelta(days=s.cookie_expiry_days))


@dataclass(frozen=True)
class Identity:
    """What the claims say, checked: the user as the store should hold them."""

    username: str
    display_name: str
    email: str | None
    role: str
    cost_centers: tuple[str, ...]  # sorted; empty for every role but app_owner

    def as_detail(self) -> dict[str, object]:
        return {"role": self.role, "cost_centers": list(self.cost_centers), "display_name": self.display_name,
                "email": self.email}


def _text(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _username(claims: Mapping[str, object], names: ClaimNames) -> str:
    raw = _text(claims.get(names.username)) or _text(claims.get(names.username_fallback))
    if raw is None:
        raise AccessDenied(f"The identity provider sent no username (claim {names.username!r} or "
                           f"{names.username_fallback!r}); ask your administrator to release one of them.")
    name = sessions.normalise_username(raw)
    if len(name) > sessions.MAX_USERNAME or not _USERNAME.match(name):
        raise AccessDenied(f"The username {raw!r} from the identity provider is not one Apportion accepts "
                           "(letters, digits and . _ - @ +, at most 64).")
    return name


def _role(claims: Mapping[str, object], names: ClaimNames) -> str:
    raw = claims.get(names.role)
    role = _text(raw)
    if role is None:
        raise AccessDenied(f"The identity provider gave you no Apportion role (claim {names.role!r}); ask your "
                           "administrator to assign one.")
    if role.lower() not in ROLES:
        raise AccessDenied(f"The identity provider gives you the role {role!r}, which Apportion does not know; "
                           f"it must be one of {', '.join(ROLES)}.")
    return role.lower()


def _scope_values(raw: object) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, str):
        return [p.strip() for p in raw.split(",") if p.strip()]
    if isinstance(raw, list | tuple):
        return [v.strip() for v in raw if isinstance(v, str) and v.strip()]
    return []


def _scope(con: duckdb.DuckDBPyConnection, claims: Mapping[str, object], names: ClaimNames, role: str) -> list[str]:
    if role != "app_owner":
        return []
    wanted = sorted(set(_scope_values(claims.get(names.scope))))
    if not wanted:
        raise AccessDenied(f"You sign in as an app owner, but the identity provider names none of your cost centres "
                           f"(claim {names.scope!r}); ask your administrator to add them.")
    known = {r[0] for r in con.execute("SELECT unit_id FROM org_unit WHERE kind = 'cost_center' AND unit_id IN "
                                       f"({', '.join('?' for _ in wanted)})", wanted).fetchall()}
    unknown = [cc for cc in wanted if cc not in known]
    if unknown:
        raise AccessDenied(f"The identity provider names cost centres Apportion does not know: {', '.join(unknown)}; "
                           "ask your administrator to correct your cost centres.")
    return wanted


def _check_age(claims: Mapping[str, object], names: ClaimNames, now: datetime | None) -> None:
    iat = claims.get("iat")
    if isinstance(iat, int | float) and not isinstance(iat, bool):
        at = now if now is not None else datetime.now(UTC)
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        if at - datetime.fromtimestamp(iat, UTC) > names.max_age:
            raise AccessDenied("Your single sign-on has expired; log out and sign in again.")


def identity_from_claims(con: duckdb.DuckDBPyConnection, claims: Mapping[str, object],
                         names: ClaimNames | None = None, *, now: datetime | None = None) -> Identity:
    """Check the claims and say who they describe; raises AccessDenied with the message to show. Writes nothing."""
    n = names if names is not None else ClaimNames.from_settings()
    _check_age(claims, n, now)
    username = _username(claims, n)
    role = _role(claims, n)
    scope = _scope(con, claims, n, role)
    display = _text(claims.get("name")) or username
    return Identity(username, display[:200], _text(claims.get("email")), role, tuple(scope))


def _stored(con: duckdb.DuckDBPyConnection, username: str) -> tuple[Identity, bool] | None:
    rows = con.execute("SELECT display_name, email, role, disabled_at IS NOT NULL FROM app_user WHERE username = ?",
                       [username]).fetchall()
    if not rows:
        return None
    display, email, role, disabled = rows[0]
    ccs = sorted(r[0] for r in con.execute("SELECT cost_center_id FROM user_scope WHERE username = ?",
                                           [username]).fetchall())
    return Identity(username, display, email, role, tuple(ccs)), bool(disabled)


def _unusable_hash() -> str:
    """A bcrypt hash of a random secret nobody is told: no password the form accepts matches it."""
    return bcrypt.hashpw(secrets.token_urlsafe(48).encode(), bcrypt.gensalt(12)).decode()


def _write_scope(con: duckdb.DuckDBPyConnection, who: Identity) -> None:
    con.execute("DELETE FROM user_scope WHERE username = ?", [who.username])
    for cc in who.cost_centers:
        con.execute("INSERT INTO user_scope VALUES (?, ?)", [who.username, cc])


def user_from_claims(con: duckdb.DuckDBPyConnection, claims: Mapping[str, object], names: ClaimNames | None = None,
                     *, now: datetime | None = None) -> User:
    """The Apportion user these OIDC claims describe, created or brought in line with the claims (audited).

    Raises AccessDenied (the message is for the person signing in) for a missing or unknown role, an app owner
    without real cost centres, a disabled user, an unknown user while just-in-time creation is off, or an expired
    sign-in."""
    n = names if names is not None else ClaimNames.from_settings()
    who = identity_from_claims(con, claims, n, now=now)
    issuer = _text(claims.get("iss"))
    stored = _stored(con, who.username)
    if stored is not None and stored[1]:
        raise AccessDenied(sessions.DISABLED)
    if stored is None and not n.create_users:
        raise AccessDenied(f"There is no Apportion account for {who.username!r}; ask an administrator to add you.")
    if stored is None or stored[0] != who:
        hashed = _unusable_hash() if stored is None else ""  # outside the transaction: bcrypt takes a while
        with transaction(con):
            again = _stored(con, who.username)  # another tab may have provisioned or changed it meanwhile
            if again is not None and again[1]:
                raise AccessDenied(sessions.DISABLED)
            if again is None:
                con.execute("INSERT INTO app_user (username, display_name, email, role, password_hash) "
                            "VALUES (?, ?, ?, ?, ?)",
                            [who.username, who.display_name, who.email, who.role, hashed or _unusable_hash()])
                _write_scope(con, who)
                audit.record(con, SSO_ACTOR, "user.sso_provisioned", "user", who.username,
                             {"issuer": issuer, "after": who.as_detail()})
            elif again[0] != who:
                con.execute("UPDATE app_user SET display_name = ?, email = ?, role = ? WHERE username = ?",
                            [who.display_name, who.email, who.role, who.username])
                _write_scope(con, who)
                audit.record(con, SSO_ACTOR, "user.sso_updated", "user", who.username,
                             {"issuer": issuer, "before": again[0].as_detail(), "after": who.as_detail()})
    user = get_user(con, who.username)
    if user is None:  # disabled between the write and this read
        raise AccessDenied(sessions.DISABLED)
    return user


def record_sign_in(con: duckdb.DuckDBPyConnection, user: User, claims: Mapping[str, object]) -> None:
    """Audit one SSO sign-in (the UI calls it once per browser session), like `session.login` for passwords."""
    with transaction(con):
        audit.record(con, user.username, "session.sso_login", "user", user.username,
                     {"issuer": _text(claims.get("iss")), "role": user.role})
