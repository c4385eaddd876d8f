"""Master data as of a month: the latest state of org_unit, application and account_owner with every later batch's
changes undone.

A batch (engine/masterdata/batches.py) records, per field it changes, the value it replaced and the month its new
value applies from; batches on one field are applied in effective order (a batch may not take effect before a
later one on the same field). So the value of a field in month P is the value the first change effective after P
replaced, or the current value when no such change exists. Entities are never deleted by a batch; one created
later (a new application) simply has no lines before it existed.

The subqueries here replace the table names in the allocation's pool query and in `load_org`, so a run of an
earlier month uses the org that was in force then — and its run key, which digests the org and the resolved owners,
is the one it had before the change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb

from engine.errors import InputError
from engine.store.sql import lit

PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class Entity:
    table: str
    key_columns: tuple[str, ...]
    columns: tuple[str, ...]
    fields: tuple[str, ...]        # the fields a batch may change

    @property
    def key_sql(self) -> str:
        """The entity key as master_data_change stores it (account owners: provider/sub_account_id)."""
        return " || '/' || ".join(f"t.{c}" for c in self.key_columns)


ENTITIES: dict[str, Entity] = {
    "application": Entity("application", ("app_id",), ("app_id", "name", "owner", "cost_center_id", "tier", "sla"),
                          ("cost_center_id", "owner")),
    "org_unit": Entity("org_unit", ("unit_id",), ("unit_id", "name", "kind", "parent_id", "manager"),
                       ("parent_id", "manager")),
    "account_owner": Entity("account_owner", ("provider", "sub_account_id"),
                            ("provider", "sub_account_id", "cost_center_id", "app_id"), ("cost_center_id", "app_id")),
}


def check_period(period: str) -> str:
    if not isinstance(period, str) or not PERIOD.match(period):
        raise InputError(f"period must be YYYY-MM, not {period!r}")
    return period


def table_as_of(entity: str, period: str | None) -> str:
    """SQL for `entity`'s rows as of `period`, to use where the table name would go (`… JOIN <this> alias`).
    None: the current table itself."""
    spec = ENTITIES[entity]
    if period is None:
        return spec.table
    p = lit(check_period(period))
    firsts = " ".join(
        f"LEFT JOIN (SELECT c.entity_key, c.old_value FROM master_data_change c"
        f" JOIN master_data_batch b ON b.batch_no = c.batch_no"
        f" WHERE b.reverted_at IS NULL AND b.effective_from > {p} AND c.entity = {lit(entity)}"
        f" AND c.field = {lit(f)}"
        f" QUALIFY row_number() OVER (PARTITION BY c.entity_key ORDER BY b.effective_from, b.batch_no, c.seq) = 1)"
        f" u_{f} ON u_{f}.entity_key = {spec.key_sql}"
        for f in spec.fields)
    cols = ", ".join(
        f"CASE WHEN u_{c}.entity_key IS NULL THEN t.{c} ELSE u_{c}.old_value END AS {c}" if c in spec.fields
        else f"t.{c}" for c in spec.columns)
    return f"(SELECT {cols} FROM {spec.table} t {firsts})"


def changed_after(con: duckdb.DuckDBPyConnection, period: str) -> bool:
    """Did any (non-reverted) master-data batch take effect after `period`? If not, the tables are the org of it."""
    return bool(con.execute("SELECT count(*) FROM master_data_batch WHERE reverted_at IS NULL AND effective_from > ?",
                            [check_period(period)]).fetchall()[0][0])
