"""The spool folder beside the store (`<store>.jobs/`) and what lies in it.

`<id>.job` a submitted job (JSON), renamed to `<id>.running` when the runner claims it; `<id>.out` / `<id>.err` the
job's output while it runs; `<id>.result` its result (JSON), written last. `runner.json` is the heartbeat. Every
JSON file is written to a temporary sibling and renamed over its name, so a reader never sees half a file.

The folder has the store's own trust: whoever can write it can write the DuckDB file. It is created 0700 and a
folder or job file owned by another user is refused.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import ConfigError

HEARTBEAT = "runner.json"
BEAT_SECONDS = 1.0      # the runner writes its heartbeat this often
STALE_SECONDS = 5.0     # a heartbeat older than this means no runner is alive


def folder(db: Path) -> Path:
    """`<store>.jobs/` beside the store file: one spool per store, even when stores share a folder."""
    p = db.expanduser().resolve()
    return p.with_name(p.name + ".jobs")


def ensure(db: Path) -> Path:
    """The spool folder, created 0700; refused when another user owns it, tightened when it is group/world-open."""
    path = folder(db)
    try:
        path.mkdir(mode=0o700, exist_ok=True)
        st = path.stat()
    except OSError as exc:
        raise ConfigError(f"cannot create the job folder {path}: {exc}") from exc
    check_owner(path, st)
    if stat.S_IMODE(st.st_mode) & 0o077:
        os.chmod(path, 0o700)
    return path


def check_owner(path: Path, st: os.stat_result | None = None) -> None:
    st = st or path.lstat()
    if st.st_uid != os.getuid():
        raise ConfigError(f"{path} belongs to uid {st.st_uid}, not this process's uid {os.getuid()}: refused "
                          "(the job folder has the store's own trust)")


def new_id() -> str:
    """Sortable by submission time, unique across processes."""
    return f"{time.time_ns():020d}-{os.getpid()}-{secrets.token_hex(4)}"


def write_json(path: Path, data: dict[str, Any], *, durable: bool = True) -> None:
    """Atomically: a sibling temp file (0600), fsync (unless not `durable`: the heartbeat), rename over `path`."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_json(path: Path) -> dict[str, Any] | None:
    """The file's object, or None when it is missing or not a JSON object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


@dataclass(frozen=True)
class Heartbeat:
    pid: int
    store: str
    beat_at: float
    running: str | None

    def fresh(self, now: float | None = None) -> bool:
        """Beaten within STALE_SECONDS by a process that still exists."""
        if (now if now is not None else time.time()) - self.beat_at > STALE_SECONDS:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def heartbeat(db: Path) -> Heartbeat | None:
    """The runner's last heartbeat for this store, or None (no runner ever, unreadable, or another user's)."""
    path = folder(db) / HEARTBEAT
    try:
        check_owner(path)
    except (OSError, ConfigError):
        return None
    data = read_json(path)
    if data is None:
        return None
    try:
        return Heartbeat(int(data["pid"]), str(data["store"]), float(data["beat_at"]), data.get("running"))
    except (KeyError, TypeError, ValueError):
        return None


def live_runner(db: Path) -> Heartbeat | None:
    """A fresh heartbeat of another process's runner for this very store: the app holds it and takes jobs."""
    hb = heartbeat(db)
    if hb is None or hb.pid == os.getpid() or not hb.fresh():
        return None
    return hb if Path(hb.store) == db.expanduser().resolve() else None
