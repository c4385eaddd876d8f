"""A job's stdout and stderr, captured per thread.

`install()` puts one proxy over `sys.stdout` and one over `sys.stderr` (once; again only if something replaced
them since). A write from a thread that has a sink (the runner's thread while it runs a job) goes to that sink;
every other thread's write goes to the stream the proxy replaced, so a job's output never reaches the app's log
and a session's print never reaches a job.
"""

from __future__ import annotations

import io
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

_local = threading.local()
_GUARD = threading.Lock()


class Sink:
    """What one job's stream collects: the whole text, and every write appended to a file as it happens."""

    def __init__(self, live: TextIO | None = None) -> None:
        self.parts: list[str] = []
        self.live = live

    def write(self, s: str) -> None:
        self.parts.append(s)
        if self.live is not None:
            self.live.write(s)
            self.live.flush()

    def text(self) -> str:
        return "".join(self.parts)


class Routed(io.TextIOBase):
    """Stands in for sys.stdout or sys.stderr; `which` is "out" or "err"."""

    def __init__(self, real: TextIO, which: str) -> None:
        super().__init__()
        self.real = real
        self.which = which

    def _sink(self) -> Sink | None:
        sinks: dict[str, Sink] | None = getattr(_local, "sinks", None)
        return sinks.get(self.which) if sinks else None

    def write(self, s: str) -> int:
        sink = self._sink()
        if sink is None:
            return self.real.write(s)
        sink.write(s)
        return len(s)

    def flush(self) -> None:
        if self._sink() is None:
            self.real.flush()

    def isatty(self) -> bool:
        return False if self._sink() is not None else self.real.isatty()

    def fileno(self) -> int:
        if self._sink() is not None:
            raise io.UnsupportedOperation("a job's stream has no file descriptor")
        return self.real.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8" if self._sink() is not None else str(getattr(self.real, "encoding", "utf-8"))

    def writable(self) -> bool:
        return True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def install() -> None:
    """Route sys.stdout / sys.stderr per thread from now on (idempotent)."""
    with _GUARD:
        if not isinstance(sys.stdout, Routed):
            sys.stdout = Routed(sys.stdout, "out")
        if not isinstance(sys.stderr, Routed):
            sys.stderr = Routed(sys.stderr, "err")


@contextmanager
def captured(out: Sink, err: Sink) -> Iterator[None]:
    """This thread's writes to sys.stdout / sys.stderr go to `out` / `err` inside the block."""
    install()
    _local.sinks = {"out": out, "err": err}
    try:
        yield
    finally:
        _local.sinks = None
