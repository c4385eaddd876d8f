"""The store a job's thread works on: the runner binds the app's cursor here, `engine.cli.open_store` reads it.

Thread-local, because the runner runs each job on its own thread-of-control and nothing else on that thread opens
a store meanwhile; sessions' threads never see it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb


@dataclass(frozen=True)
class JobStore:
    path: Path            # the store file the app holds (resolved)
    cursor: duckdb.DuckDBPyConnection   # a cursor of the app's connection, for this job only
    job_id: str


_local = threading.local()


def current() -> JobStore | None:
    """The job this thread is running, or None outside a job."""
    job: JobStore | None = getattr(_local, "job", None)
    return job


@contextmanager
def bound(job: JobStore) -> Iterator[JobStore]:
    previous = current()
    _local.job = job
    try:
        yield job
    finally:
        _local.job = previous
