"""Fixtures for live sources: a real localhost API server over the real samples, a FinOps user."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.access.users import User
from engine.sources.http import Limits
from tests.unit.sources.api_server import ApiServer

FINOPS = User("fiona", "Fiona", "finops", None)
ENV = {"SRC_TOKEN": "test-token"}
FAST = Limits(max_seconds=30, attempts=5, backoff_initial=0.01, backoff_max=0.05, jitter=0.0, read_timeout=5)


@pytest.fixture
def api() -> Iterator[ApiServer]:
    server = ApiServer()
    yield server
    server.stop()
