"""Sources as configuration: what to poll or watch, where, with which credential (by NAME), how often, how fresh.

A source's credential lives in the environment (or `.streamlit/secrets.toml`) under the variable `secret_env` names;
the store holds only that name, so a copied store or an audit export hands out no token. Every change is audited.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import duckdb
from pydantic import BaseModel, Field, ValidationError, field_validator

from engine import store
from engine.access import policy
from engine.access.users import User
from engine.errors import ConfigError, InputError, NotFound, invalid
from engine.settings import SECRETS_FILE
from engine.store import audit

Mode = Literal["poll", "folder"]
POLL_KINDS = ("snipeit", "jamf", "servicenow", "opencost")
KINDS = (*POLL_KINDS, "folder")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,47}$")
_ENV = re.compile(r"^[A-Z_][A-Z0-9_]{0,127}$")
_COLUMNS = ("name", "kind", "mode", "endpoint", "secret_env", "interval_minutes", "freshness_target_minutes",
            "options", "paused", "created_by", "created_at", "cursor", "last_success_at", "last_attempt_at",
            "last_error")


class SourceSpec(BaseModel):
    """What a FinOps analyst types to add a source (validated; `options` per kind, docs/sources.md)."""

    name: str = Field(description="short id: lower-case letters, digits, - and _")
    kind: Literal["snipeit", "jamf", "servicenow", "opencost", "folder"]
    endpoint: str = Field(min_length=1, description="base URL of the API, or the drop folder's path")
    secret_env: str | None = Field(None, description="environment variable holding the API token")
    interval_minutes: int = Field(60, ge=1, le=7 * 1440)
    freshness_target_minutes: int = Field(1440, ge=1, le=31 * 1440)
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        v = v.strip()
        if not _NAME.match(v):
            raise InputError("use lower-case letters, digits, '-' and '_' (up to 48), starting with a letter or digit")
        return v

    @field_validator("secret_env")
    @classmethod
    def _env(cls, v: str | None) -> str | None:
        v = (v or "").strip() or None
        if v is not None and not _ENV.match(v):
            raise InputError("must be an environment variable NAME (A-Z, 0-9, _), never the token itself")
        return v

    @property
    def mode(self) -> Mode:
        return "folder" if self.kind == "folder" else "poll"


@dataclass(frozen=True)
class Source:
    name: str
    kind: str
    mode: Mode
    endpoint: str
    secret_env: str | None
    interval_minutes: int
    freshness_target_minutes: int
    options: dict[str, Any]
    paused: bool
    created_by: str
    created_at: datetime
    cursor: str | None
    last_success_at: datetime | None
    last_attempt_at: datetime | None
    last_error: str | None

    def option(self, key: str, default: Any) -> Any:
        return self.options.get(key, default)


def _row(r: tuple[Any, ...]) -> Source:
    d = dict(zip(_COLUMNS, r, strict=True))
    d["options"] = json.loads(d["options"] or "{}")
    d["paused"] = bool(d["paused"])
    return Source(**d)


def list_sources(con: duckdb.DuckDBPyConnection) -> list[Source]:
    return [_row(r) for r in con.execute(f"SELECT {', '.join(_COLUMNS)} FROM source ORDER BY name").fetchall()]


def get_source(con: duckdb.DuckDBPyConnection, name: str) -> Source:
    rows = con.execute(f"SELECT {', '.join(_COLUMNS)} FROM source WHERE name = ?", [name]).fetchall()
    if not rows:
        raise NotFound(f"no source named '{name}'")
    return _row(rows[0])


def add_source(con: duckdb.DuckDBPyConnection, user: User, spec: SourceSpec | Mapping[str, Any]) -> Source:
    """Add a source (finops/admin). The folder must exist for a folder source; a URL must be http(s)."""
    policy.require(user, "manage_sources", "add a source")
    if not isinstance(spec, SourceSpec):
        try:
            spec = SourceSpec.model_validate(dict(spec))
        except ValidationError as exc:
            raise invalid("source", exc) from None
    if spec.mode == "poll" and not re.match(r"^https?://[^\s/]+", spec.endpoint):
        raise InputError(f"source '{spec.name}': the endpoint must be an http(s) URL (got '{spec.endpoint}')")
    if spec.mode == "folder" and not os.path.isdir(spec.endpoint):
        raise InputError(f"source '{spec.name}': the drop folder '{spec.endpoint}' does not exist on the server")
    if con.execute("SELECT 1 FROM source WHERE name = ?", [spec.name]).fetchall():
        raise InputError(f"a source named '{spec.name}' exists already")
    with store.transaction(con):
        con.execute(
            "INSERT INTO source (name, kind, mode, endpoint, secret_env, interval_minutes, freshness_target_minutes, "
            "options, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [spec.name, spec.kind, spec.mode, spec.endpoint.rstrip("/") if spec.mode == "poll" else spec.endpoint,
             spec.secret_env, spec.interval_minutes, spec.freshness_target_minutes,
             json.dumps(spec.options, sort_keys=True), user.username])
        audit.record(con, user.username, "source_add", "source", spec.name,
                     {"kind": spec.kind, "endpoint": spec.endpoint, "secret_env": spec.secret_env,
                      "interval_minutes": spec.interval_minutes,
                      "freshness_target_minutes": spec.freshness_target_minutes, "options": spec.options})
    return get_source(con, spec.name)


def set_paused(con: duckdb.DuckDBPyConnection, user: User, name: str, paused: bool) -> Source:
    policy.require(user, "manage_sources", f"{'pause' if paused else 'resume'} a source")
    src = get_source(con, name)
    if src.paused == paused:
        return src
    with store.transaction(con):
        con.execute("UPDATE source SET paused = ? WHERE name = ?", [paused, name])
        audit.record(con, user.username, "source_pause" if paused else "source_resume", "source", name, {})
    return get_source(con, name)


def secret_for(src: Source, environ: Mapping[str, str] | None = None) -> str | None:
    """The source's token, read now from its variable (environment first, then secrets.toml); never stored."""
    if src.secret_env is None:
        return None
    env: Mapping[str, str] = os.environ if environ is None else environ
    value = env.get(src.secret_env, "").strip()
    if not value and environ is None and SECRETS_FILE.is_file():
        try:
            value = str(tomllib.loads(SECRETS_FILE.read_text()).get(src.secret_env, "")).strip()
        except (OSError, tomllib.TOMLDecodeError):
            value = ""
    if not value:
        raise ConfigError(f"source '{src.name}': the credential variable {src.secret_env} is not set in the "
                          "environment or .streamlit/secrets.toml")
    return value
