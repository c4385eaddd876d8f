"""The one place that finds connectors. Every module below `connectors/billing`, `connectors/inventory` and
`connectors/usage` that defines `CONNECTOR` is registered (packages and modules whose name starts with `_`, such as
`connectors/_kit`, are skipped); higher `priority` is asked first, so a specific format (AWS CUR) wins over a generic
one (CSV mapping). The rest of the engine asks this module, never `connectors` itself."""

from __future__ import annotations

import csv
import importlib
import io
import pkgutil
from functools import cache
from pathlib import Path

import connectors
from engine.errors import InputError, NotFound
from engine.ingest.contract.connector import Connector, FileRefused, InventoryRole, Sniff

SNIFF_BYTES = 64 * 1024


@cache
def all_connectors() -> tuple[Connector, ...]:
    found: dict[str, Connector] = {}
    for info in pkgutil.walk_packages(connectors.__path__, "connectors."):
        if any(part.startswith("_") for part in info.name.split(".")[1:]):
            continue
        module = importlib.import_module(info.name)
        conn = getattr(module, "CONNECTOR", None)
        if conn is None:
            continue
        if not isinstance(conn, Connector):
            raise InputError(f"{info.name}.CONNECTOR does not declare the connector contract "
                             "(name, target_table, priority, loads_directly, inventory_role, detect, plan, parse)")
        if conn.name in found:
            raise InputError(f"two connectors are named '{conn.name}': {info.name} and another module")
        found[conn.name] = conn
    return tuple(sorted(found.values(), key=lambda c: (-c.priority, c.name)))


def by_name(name: str) -> Connector:
    for c in all_connectors():
        if c.name == name:
            return c
    names = ", ".join(c.name for c in all_connectors())
    raise NotFound(f"unknown source kind '{name}' (known: {names})")


def kinds() -> list[str]:
    """Connector names a user may pick instead of detection (upload page, `--source`)."""
    return sorted(c.name for c in all_connectors())


def with_role(role: InventoryRole) -> tuple[str, ...]:
    """Asset sources on one side of reconciliation, in the order detection asks them."""
    return tuple(c.name for c in all_connectors() if c.inventory_role == role)


def loads_directly(kind: str) -> bool:
    return any(c.name == kind and c.loads_directly for c in all_connectors())


def sniff(path: Path) -> Sniff:
    with open(path, "rb") as f:
        head = f.read(SNIFF_BYTES)
    columns: tuple[str, ...] = ()
    text = head.decode("utf-8-sig", errors="replace")
    first = text.splitlines()[0] if text else ""
    binary = head.startswith((b"PK", b"PAR1"))
    if first and not binary and not first.lstrip().startswith(("{", "[")):
        try:
            columns = tuple(c.strip() for c in next(csv.reader(io.StringIO(first))))
        except (csv.Error, StopIteration):
            columns = ()
    return Sniff(path=path, head=head, columns=columns)


def detect(path: Path) -> Connector:
    s = sniff(path)
    for c in all_connectors():
        if c.detect(s):
            return c
    raise FileRefused(path.name, "a recognised export format (FOCUS, AWS CUR, Azure cost details, GCP billing, "
                      "an inventory or driver export); choose a source kind or a column mapping", row=1)
