"""Finds the connector for a file. Every module in connectors/ that defines `CONNECTOR` is registered;
higher `priority` is asked first, so a specific format (AWS CUR) wins over a generic one (CSV mapping)."""

from __future__ import annotations

import csv
import importlib
import io
import pkgutil
from functools import cache
from pathlib import Path

import connectors
from connectors.base import Connector, FileRefused, Sniff

SNIFF_BYTES = 64 * 1024


@cache
def all_connectors() -> tuple[Connector, ...]:
    found: list[Connector] = []
    for info in pkgutil.iter_modules(connectors.__path__):
        module = importlib.import_module(f"connectors.{info.name}")
        conn = getattr(module, "CONNECTOR", None)
        if conn is not None:
            found.append(conn)
    return tuple(sorted(found, key=lambda c: (-int(getattr(c, "priority", 0)), c.name)))


def by_name(name: str) -> Connector:
    for c in all_connectors():
        if c.name == name:
            return c
    names = ", ".join(c.name for c in all_connectors())
    raise KeyError(f"unknown source kind '{name}' (known: {names})")


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
