"""Run staging in a child process with an address-space cap (RLIMIT_AS), a CPU cap and a wall-clock deadline, so a
hostile or broken file can exhaust only the child. The parent reads progress lines and one result line on stdout.

Run as `python -m engine.ingest.sandbox` with a JSON job on stdin; never forked from the app (Streamlit and DuckDB hold
threads, and fork copies their locks).
"""

from __future__ import annotations

import json
import os
import queue
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.ingest.contract.connector import FileRefused

ROOT = Path(__file__).resolve().parents[2]
BASE_VIRTUAL_MB = 1600   # Python + DuckDB + Polars mapped before any data (measured ~1.4 GB virtual)


@dataclass(frozen=True)
class Limits:
    """Budget of one parse: DuckDB works within `memory_mb` (spilling beyond), the address space is capped above it."""

    memory_mb: int = 1200
    seconds: float = 600.0
    threads: int = 2
    # the parent's DuckDB budget while it loads accepted rows straight from the file (direct mode); measured: a
    # 10M-line load peaks near 1 GB RSS under it, while 1200 MB makes DuckDB evict and write ~1.5× slower
    load_memory_mb: int = 1800

    @property
    def address_space_bytes(self) -> int:
        return (BASE_VIRTUAL_MB + 2 * self.memory_mb) * 1024 * 1024


PARENT_ENV = "APPORTION_INGEST_PARENT"
PR_SET_PDEATHSIG = 1


def bind_to_parent(parent: int) -> None:
    """Die with the parent (docs/reliability.md): the kernel sends SIGKILL when the thread that started this process
    exits (prctl PR_SET_PDEATHSIG, Linux), and a watchdog thread exits as soon as this process is re-parented
    (any platform, and the case of a parent killed before the prctl took effect)."""
    try:
        import ctypes  # noqa: PLC0415
        import signal  # noqa: PLC0415

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):
        pass   # not Linux: the watchdog alone
    if os.getppid() != parent:
        os._exit(137)

    def watch() -> None:
        while True:
            time.sleep(0.25)
            if os.getppid() != parent:
                os._exit(137)

    threading.Thread(target=watch, daemon=True, name="parent-watchdog").start()


def _child_main() -> int:
    parent = os.environ.get(PARENT_ENV)
    if parent:
        bind_to_parent(int(parent))
    job = json.loads(sys.stdin.read())
    limits = Limits(**job["limits"])
    resource.setrlimit(resource.RLIMIT_AS, (limits.address_space_bytes, limits.address_space_bytes))
    cpu = int(limits.seconds * max(limits.threads, 1)) + 5
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    if job.get("_test_allocate_mb"):
        # test hook: prove the cap holds by trying to allocate past it
        _hog = bytearray(int(job["_test_allocate_mb"]) * 1024 * 1024)  # noqa: F841
    if job.get("_test_sleep_s"):
        time.sleep(float(job["_test_sleep_s"]))

    import duckdb  # noqa: PLC0415 - imported after the limits are set

    from engine.ingest.staging import stage  # noqa: PLC0415

    def report(p: float) -> None:
        print(f"PROGRESS {p:.4f}", flush=True)

    try:
        meta = stage(Path(job["path"]), Path(job["out"]), kind=job.get("kind"), options=job.get("options") or {},
                     threads=limits.threads, memory_mb=limits.memory_mb, progress=report,
                     direct=bool(job.get("direct")), precheck=bool(job.get("precheck")))
    except FileRefused as exc:
        print("REFUSED " + json.dumps({"file": exc.file, "expected": exc.expected, "row": exc.row,
                                       "column": exc.column}), flush=True)
        return 0
    except (MemoryError, duckdb.OutOfMemoryException):
        print("REFUSED " + json.dumps({"file": Path(job["path"]).name, "row": None, "column": None,
                                       "expected": f"a file that parses within {limits.memory_mb} MB of memory"}),
              flush=True)
        return 0
    print("RESULT " + meta.to_json(), flush=True)
    return 0


def run_isolated(path: Path, out: Path, *, kind: str | None, options: dict[str, Any] | None, limits: Limits,
                 progress: Callable[[float], None] | None = None, test_hooks: dict[str, Any] | None = None,
                 direct: bool = False, precheck: bool = False) -> str:
    """Stage `path` into `out` in a child process; returns the StageMeta JSON or raises FileRefused.
    `direct`: stage only verdicts for SQL-plan billing connectors (the parent then loads from the file);
    `precheck`: first try the structural pass (engine/staging.precheck)."""
    job = {"path": str(path), "out": str(out), "kind": kind, "options": options or {}, "direct": direct,
           "precheck": precheck,
           "limits": {"memory_mb": limits.memory_mb, "seconds": limits.seconds, "threads": limits.threads,
                      "load_memory_mb": limits.load_memory_mb}}
    job.update(test_hooks or {})
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env[PARENT_ENV] = str(os.getpid())
    proc = subprocess.Popen([sys.executable, "-m", "engine.ingest.sandbox"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=str(ROOT), env=env, text=True)
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    proc.stdin.write(json.dumps(job))
    proc.stdin.close()
    lines: queue.Queue[str | None] = queue.Queue()
    err_chunks: list[str] = []

    def pump_out() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    def pump_err() -> None:
        assert proc.stderr is not None
        err_chunks.append(proc.stderr.read()[-4000:])

    threads = [threading.Thread(target=pump_out, daemon=True), threading.Thread(target=pump_err, daemon=True)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + limits.seconds
    result: str | None = None
    refused: dict[str, Any] | None = None
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise FileRefused(path.name, f"a file that parses within {limits.seconds:g} s (parsing was stopped)")
            try:
                line = lines.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                continue
            if line is None:
                break
            if line.startswith("PROGRESS ") and progress:
                progress(float(line.split()[1]))
            elif line.startswith("RESULT "):
                result = line[len("RESULT "):]
            elif line.startswith("REFUSED "):
                refused = json.loads(line[len("REFUSED "):])
    finally:
        if proc.poll() is None:   # timed out, or the caller was interrupted: never leave a parser behind
            proc.kill()
            proc.wait()
    code = proc.wait()
    for t in threads:
        t.join(timeout=5)
    if refused is not None:
        raise FileRefused(refused["file"], refused["expected"], row=refused.get("row"), column=refused.get("column"))
    if result is None:
        err = "".join(err_chunks)
        if "MemoryError" in err or "memory" in err.lower() or code in (-9, -6, 137):
            why = f"a file that parses within {limits.memory_mb} MB of memory (the parser ran out and was stopped)"
        elif code == -24 or code == -signal_xcpu():
            why = f"a file that parses within {limits.seconds:g} s of CPU (parsing was stopped)"
        else:
            last = [ln for ln in err.splitlines() if ln.strip()][-1:] or [f"exit code {code}"]
            why = f"a file the parser can read (it failed: {last[0][:300]})"
        raise FileRefused(path.name, why)
    return result


def signal_xcpu() -> int:
    import signal  # noqa: PLC0415

    return int(signal.SIGXCPU)


if __name__ == "__main__":
    sys.exit(_child_main())
