"""A small room (issue #19): three browser sessions at once on a localhost server of the demo store, logging in and
opening pages for 30 s, through the reliability harness (`python -m bench.reliability`, which runs twenty).
No session may be lost and no page may show an error."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_three_sessions_at_once_lose_nothing(demo_db_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "room.json"
    proc = subprocess.run([sys.executable, "-m", "bench.reliability", "--skip", "kills", "corpus", "--sessions",
                           "3", "--seconds", "30", "--room-db", str(demo_db_path), "--no-doc", "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    figures = json.loads(out.read_text())["room"]
    assert figures["logins"] == 3, (figures, proc.stderr[-2000:])
    assert figures["errors"] == [] and figures["lost"] == 0, figures
    assert figures["loads"] >= 3   # every session opened pages after its login
    assert proc.returncode == 0, proc.stderr[-2000:]
