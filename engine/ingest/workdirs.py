"""Private temp folders of ingest (`apportion-ingest-*`, `apportion-upload-*`, `apportion-parse-*`) that know their
owner, so a folder whose process was killed is removed the next time ingest starts (`sweep`).

Each folder holds `.owner`: the creating process id and its start time (from /proc, so a recycled pid is not taken
for the owner). A folder without an owner file (written by an older version, or killed between mkdtemp and the
write) is removed once it is older than `UNOWNED_GRACE_S`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

PREFIXES = ("apportion-ingest-", "apportion-upload-", "apportion-parse-")
OWNER_FILE = ".owner"
UNOWNED_GRACE_S = 600.0


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat), or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def owner_token(pid: int | None = None) -> str:
    p = os.getpid() if pid is None else pid
    return f"{p} {_start_time(p) or '?'}"


def make_workdir(prefix: str = "apportion-ingest-", base: Path | None = None) -> Path:
    """A new private folder (mode 0700, like mkdtemp) with this process recorded as its owner."""
    d = Path(tempfile.mkdtemp(prefix=prefix, dir=str(base) if base else None))
    (d / OWNER_FILE).write_text(owner_token())
    return d


def owner_alive(folder: Path) -> bool:
    try:
        pid_s, started = (folder / OWNER_FILE).read_text().split()
        pid = int(pid_s)
    except (OSError, ValueError):
        return False
    now = _start_time(pid)
    if now is None:
        return False
    return started == "?" or now == started


def orphans(base: Path | None = None) -> list[Path]:
    """Ingest folders under the temp directory whose owner is gone."""
    root = Path(base or tempfile.gettempdir())
    found: list[Path] = []
    try:
        entries = list(root.iterdir())
    except OSError:
        return []
    for d in entries:
        if not d.name.startswith(PREFIXES) or not d.is_dir() or d.is_symlink():
            continue
        if (d / OWNER_FILE).exists():
            if not owner_alive(d):
                found.append(d)
        else:
            try:
                age = time.time() - d.stat().st_mtime
            except OSError:
                continue
            if age > UNOWNED_GRACE_S:
                found.append(d)
    return found


def sweep(base: Path | None = None) -> int:
    """Remove the folders of killed owners; returns how many were removed. Only folders of this project's
    prefixes, owned by this user (mkdtemp's), are ever touched."""
    n = 0
    uid = os.getuid()
    for d in orphans(base):
        try:
            if d.stat().st_uid != uid:
                continue
        except OSError:
            continue
        shutil.rmtree(d, ignore_errors=True)
        n += 0 if d.exists() else 1
    return n
