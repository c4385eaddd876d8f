"""Drop-folder watching: which files in a source's folder are complete and not yet loaded.

A file is *ready* when its modification time is at least `settle_seconds` old and its size and mtime are the ones
the previous look recorded (a first sight of an old file is ready at once). Names a writer uses while a copy is in
progress (`.part`, `.tmp`, `.crdownload`, `.partial`, `~`, a leading dot) are never looked at. A file already
loaded (or found a duplicate, or refused) with the same size and mtime is skipped; the pipeline's content hash
catches the same bytes under another name or touched again, so no file's rows load twice.
"""

from __future__ import annotations

import fnmatch
import os
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from engine.sources.http import PollFailed

IN_PROGRESS = (".part", ".tmp", ".crdownload", ".partial", ".download", "~")
DONE = ("loaded", "duplicate", "refused")


@dataclass(frozen=True)
class Seen:
    name: str
    size: int
    mtime_ns: int
    status: str


@dataclass(frozen=True)
class Look:
    ready: list[Path]
    waiting: list[tuple[str, str]]      # (file, why it waits)
    observed: list[Seen]                # what to record as pending


def _last_seen(con: duckdb.DuckDBPyConnection, source: str) -> dict[str, Seen]:
    out: dict[str, Seen] = {}
    for name, size, mtime, status in con.execute(
            "SELECT file_name, size, mtime_ns, status FROM source_file WHERE source_name = ? ORDER BY seen_at",
            [source]).fetchall():
        out[str(name)] = Seen(str(name), int(size), int(mtime), str(status))
    return out


def look(con: duckdb.DuckDBPyConnection, source: str, folder: Path, pattern: str, settle_seconds: float,
         now: float | None = None) -> Look:
    if not folder.is_dir():
        raise PollFailed(f"the drop folder '{folder}' does not exist or is not a folder")
    at = time.time() if now is None else now
    seen = _last_seen(con, source)
    ready: list[Path] = []
    waiting: list[tuple[str, str]] = []
    observed: list[Seen] = []
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        name = entry.name
        if not entry.is_file(follow_symlinks=False) or name.startswith(".") or name.endswith(IN_PROGRESS):
            continue
        if not fnmatch.fnmatch(name, pattern):
            continue
        st = entry.stat(follow_symlinks=False)
        prev = seen.get(name)
        same = prev is not None and prev.size == st.st_size and prev.mtime_ns == st.st_mtime_ns
        if same and prev is not None and prev.status in DONE:
            continue
        age = at - st.st_mtime_ns / 1e9
        if age < settle_seconds:
            waiting.append((name, f"still being written (changed {max(age, 0):.0f} s ago; waits "
                                  f"{settle_seconds:g} s of quiet)"))
            observed.append(Seen(name, st.st_size, st.st_mtime_ns, "pending"))
        elif prev is not None and not same:
            waiting.append((name, "changed since the last look; loads once it holds still"))
            observed.append(Seen(name, st.st_size, st.st_mtime_ns, "pending"))
        else:
            ready.append(Path(entry.path))
    return Look(ready, waiting, observed)
