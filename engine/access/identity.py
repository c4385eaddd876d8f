"""Who a name denotes, for maker-checker: one comparable form of a username, and the checker of an approval.

Every approval in the engine (rule versions, month closes, exceptions as they arrive) compares people through
`identity`: "Fiona", "fiona ", "FIONA" and "fi\u200bona" are one person. An approver must be a known user holding
the approving action in engine/access/policy.py.
"""

from __future__ import annotations

import unicodedata

import duckdb

from engine.access.policy import require, roles_for
from engine.access.users import User, get_user
from engine.errors import AccessDenied, InputError

# Default-ignorable code points that are not format characters (Cf): combining grapheme joiner, Hangul fillers,
# Khmer inherent vowels, Mongolian and other variation selectors.
_IGNORABLE = frozenset([0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x3164, 0xFFA0, *range(0x180B, 0x1810),
                        *range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0)])


def identity(name: str | None) -> str:
    """The comparable form of a username: NFKC, invisible characters removed, trimmed, case-folded."""
    text = unicodedata.normalize("NFKC", name or "")
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cf", "Cc") and ord(ch) not in _IGNORABLE)
    return unicodedata.normalize("NFKC", text.strip().casefold())


def known_user(con: duckdb.DuckDBPyConnection, name: str) -> str | None:
    """The app_user username `name` denotes, if any; two usernames with one identity are refused."""
    key = identity(name)
    matches = [u for (u,) in con.execute("SELECT username FROM app_user").fetchall() if identity(u) == key]
    if len(matches) > 1:
        raise InputError(f"{name!r} matches several users ({', '.join(sorted(matches))}) once case and invisible "
                         "characters are ignored: rename all but one")
    return matches[0] if matches else None


def checker(con: duckdb.DuckDBPyConnection, name: str, action: str, verb: str, what: str, right: str) -> User:
    """The user approving or rejecting `what`: known, and holding `action` (`right` says who holds it)."""
    if not identity(name):
        raise InputError(f"no approver given: name the user who is to {verb} {what}")
    username = known_user(con, name)
    user = get_user(con, username) if username else None
    if user is None:
        raise AccessDenied(f"{name!r} is not a user of this store: only a known user with the right to {right} "
                           f"can {verb} {what}")
    require(user, action, f"{verb} {what} ({right} is for {', '.join(roles_for(action))})")
    return user
