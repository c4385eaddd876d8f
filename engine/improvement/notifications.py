"""In-app notifications: a row per recipient, read on the Disputes page; marking one read is the only change."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import duckdb

from engine.access.users import User
from engine.store import audit


@dataclass(frozen=True)
class Notification:
    notification_id: str
    username: str
    created_at: datetime
    subject: str
    body: str
    entity: str | None
    entity_id: str | None
    read_at: datetime | None


def notify(con: duckdb.DuckDBPyConnection, usernames: Iterable[str], subject: str, body: str, *,
           entity: str | None = None, entity_id: str | None = None, now: datetime | None = None) -> int:
    """Write one notification per distinct recipient (inside the caller's transaction); returns how many."""
    at = now or audit.now()
    names = sorted(set(usernames))
    for name in names:
        con.execute("INSERT INTO notification VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
                    [uuid.uuid4().hex, name, at, subject, body, entity, entity_id])
    return len(names)


def users_with_role(con: duckdb.DuckDBPyConnection, *roles: str) -> list[str]:
    return [str(r[0]) for r in con.execute(
        "SELECT username FROM app_user WHERE disabled_at IS NULL AND role IN (SELECT unnest(?::VARCHAR[]))"
        " ORDER BY 1", [list(roles)]).fetchall()]


def inbox(con: duckdb.DuckDBPyConnection, user: User, *, unread_only: bool = False) -> list[Notification]:
    """The user's own notifications, newest first (nobody reads another's)."""
    sql = ("SELECT notification_id, username, created_at, subject, body, entity, entity_id, read_at FROM notification"
           " WHERE username = ?" + (" AND read_at IS NULL" if unread_only else "") + " ORDER BY created_at DESC")
    return [Notification(*r) for r in con.execute(sql, [user.username]).fetchall()]


def mark_read(con: duckdb.DuckDBPyConnection, user: User, notification_id: str | None = None) -> int:
    """Mark one (or every) unread notification of the user read; returns how many changed."""
    sql = "UPDATE notification SET read_at = ? WHERE username = ? AND read_at IS NULL"
    params: list[object] = [audit.now(), user.username]
    if notification_id is not None:
        sql += " AND notification_id = ?"
        params.append(notification_id)
    before = len(inbox(con, user, unread_only=True))
    con.execute(sql, params)
    return before - len(inbox(con, user, unread_only=True))
