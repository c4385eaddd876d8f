"""The GL mapping per cost pool: which accounts a pool's allocated cost is posted to, and whether it is capex or opex.

Stored in `gl_mapping` (migration 0017 seeds the demo rule set's pools and the reserved pool `depreciation`); every
change is a user's, checked against `manage_gl_mapping` and audited with the row before and after in the same
transaction.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Literal

import duckdb
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from engine.access.policy import require
from engine.access.users import User
from engine.errors import InputError, invalid
from engine.store import audit, transaction

DEPRECIATION = "depreciation"       # the reserved pool of the asset register's depreciation journal
Classification = Literal["opex", "capex"]
_ACCOUNT = re.compile(r"^[A-Za-z0-9]{1,10}$")   # SAP HKONT (10), Oracle natural-account segments (≤ 25)


@dataclass(frozen=True)
class GlMapping:
    pool: str
    debit_account: str
    credit_account: str
    credit_cost_center: str | None
    classification: Classification
    description: str


class MappingInput(BaseModel):
    """What a user may set for one pool; accounts are short alphanumeric codes (both ERPs' limits)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    pool: str = Field(min_length=1, max_length=120)
    debit_account: str
    credit_account: str
    credit_cost_center: str | None = None
    classification: Classification = "opex"
    description: str = Field(min_length=1, max_length=50)

    @field_validator("debit_account", "credit_account")
    @classmethod
    def _account(cls, v: str) -> str:
        if not _ACCOUNT.match(v):
            raise InputError("an account is 1–10 letters or digits")
        return v

    @field_validator("credit_cost_center")
    @classmethod
    def _blank_is_none(cls, v: str | None) -> str | None:
        return v or None


_COLS = "pool, debit_account, credit_account, credit_cost_center, classification, description"


def load(con: duckdb.DuckDBPyConnection) -> dict[str, GlMapping]:
    """Every pool's mapping, by pool."""
    rows = con.execute(f"SELECT {_COLS} FROM gl_mapping ORDER BY pool").fetchall()
    return {r[0]: GlMapping(*r) for r in rows}


def set_mapping(con: duckdb.DuckDBPyConnection, user: User | None, **fields: object) -> GlMapping:
    """Create or change one pool's mapping (finops, admin); audited as gl_mapping.set with before and after."""
    require(user, "manage_gl_mapping", "change the GL mapping")
    assert user is not None
    try:
        m = MappingInput.model_validate(fields)
    except ValidationError as exc:
        raise invalid("GL mapping", exc) from None
    if m.credit_cost_center is not None and not con.execute(
            "SELECT count(*) FROM org_unit WHERE unit_id = ? AND kind = 'cost_center'",
            [m.credit_cost_center]).fetchall()[0][0]:
        raise InputError(f"credit cost centre {m.credit_cost_center!r} is not a cost centre")
    after = GlMapping(m.pool, m.debit_account, m.credit_account, m.credit_cost_center, m.classification,
                      m.description)
    with transaction(con):
        before = load(con).get(m.pool)
        con.execute("DELETE FROM gl_mapping WHERE pool = ?", [m.pool])
        con.execute(f"INSERT INTO gl_mapping ({_COLS}, updated_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [after.pool, after.debit_account, after.credit_account, after.credit_cost_center,
                     after.classification, after.description, user.username])
        audit.record(con, user.username, "gl_mapping.set", "gl_mapping", m.pool,
                     {"before": asdict(before) if before else None, "after": asdict(after)})
    return after


def remove(con: duckdb.DuckDBPyConnection, user: User | None, pool: str) -> None:
    """Delete one pool's mapping (journals for runs that post to it are refused until it is mapped again)."""
    require(user, "manage_gl_mapping", "change the GL mapping")
    assert user is not None
    with transaction(con):
        before = load(con).get(pool)
        if before is None:
            raise InputError(f"pool {pool!r} has no GL mapping")
        con.execute("DELETE FROM gl_mapping WHERE pool = ?", [pool])
        audit.record(con, user.username, "gl_mapping.remove", "gl_mapping", pool,
                     {"before": asdict(before), "after": None})
