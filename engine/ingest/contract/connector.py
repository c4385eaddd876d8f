"""The connector contract shared by every source format.

A connector recognises its format from the header (`detect`), compiles a stage plan for one target table (`plan`:
SQL over the file, or over a frame it parsed) and can hand back the canonical frame plus the rows it refused
(`parse`). It never touches the store: engine/ingest/pipeline.py writes. Connectors import only this contract
package (and engine/errors.py); tests/unit/test_layering.py holds every import edge to that.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import polars as pl

from engine.errors import InputError

if TYPE_CHECKING:
    import duckdb

    from engine.ingest.contract.rules import StagePlan

QUARANTINE_SCHEMA: dict[str, pl.DataType] = {
    "row_number": pl.Int64(),
    "column_name": pl.String(),
    "reason": pl.String(),
    "raw": pl.String(),
}


class FileRefused(InputError):
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


InventoryRole = Literal["discovery", "record"]


@runtime_checkable
class Connector(Protocol):
    """Everything the engine asks of a source format. Each connector class declares every attribute itself; the
    registry (engine/ingest/registry.py) is the one place that finds them, so no list of names lives anywhere else.

    - `priority`: detection asks higher first, so a specific format (AWS CUR, 60) wins over a generic one.
    - `loads_directly`: its plan reads the source file itself (a SQL plan over the file), so the parent may load the
      accepted rows straight from the file (direct mode, docs/ingestion.md). Frame connectors say False.
    - `inventory_role`: for asset sources, which side of reconciliation they stand on: "discovery" (what is seen
      running: SCCM, Jamf, AWS Config) or "record" (what the register says is owned: ServiceNow, Snipe-IT, a mapped
      register); None for everything else.
    """

    @property
    def name(self) -> str: ...

    @property
    def target_table(self) -> str: ...

    @property
    def priority(self) -> int: ...

    @property
    def loads_directly(self) -> bool: ...

    @property
    def inventory_role(self) -> InventoryRole | None: ...

    def detect(self, sniff: Sniff) -> bool: ...

    def plan(self, con: duckdb.DuckDBPyConnection, path: Path, **options: Any) -> StagePlan: ...

    def parse(self, path: Path) -> ParseResult: ...
