"""The connector contract shared by every source format.

A connector recognises its format from the header (`detect`) and turns a file into a canonical frame for one
target table plus the rows it refused (`parse`). It never touches the database: engine/ingest.py writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import polars as pl

QUARANTINE_SCHEMA: dict[str, pl.DataType] = {
    "row_number": pl.Int64(),
    "column_name": pl.String(),
    "reason": pl.String(),
    "raw": pl.String(),
}


class FileRefused(Exception):
    """A file that cannot be read at all: the message names file, row, column and what was expected."""

    def __init__(self, file: str, expected: str, *, row: int | None = None, column: str | None = None) -> None:
        self.file, self.row, self.column, self.expected = file, row, column, expected
        where = ", ".join(
            p for p in (f"row {row}" if row is not None else "", f"column '{column}'" if column else "") if p
        )
        super().__init__(f"{file}: {where + ': ' if where else ''}{expected}")


@dataclass
class ParseResult:
    """What a connector made of one file."""

    kind: str                       # connector name, e.g. "focus", "aws_cur"
    target_table: str               # canonical table: cost_line, asset, driver_value, licence_assignment, ...
    frame: pl.DataFrame             # accepted rows in the target table's canonical columns
    quarantine: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=QUARANTINE_SCHEMA))
    rows_read: int = 0
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Sniff:
    """The first bytes and, for delimited text, the header columns of a file; what `detect` looks at."""

    path: Path
    head: bytes
    columns: tuple[str, ...]


class Connector(Protocol):
    name: str
    target_table: str

    def detect(self, sniff: Sniff) -> bool: ...

    def parse(self, path: Path) -> ParseResult: ...
