"""A small room (issue #19): four sessions at once on a localhost server of the demo store — two in chromium, two
speaking Streamlit's websocket (bench/wire.py) — logging in and opening pages for 30 s, through the reliability
harness (`python -m bench.reliability`, which runs twenty). No session may be lost and no page may show an error."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_four_sessions_at_once_lose_nothing(demo_db_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "room.json"
    proc = subprocess.run([sys.executable, "-m", "bench.reliability", "--skip", "kills", "corpus", "--sessions",
                           "4", "--browsers", "2", "--seconds", "30", "--room-db", str(demo_db_path), "--no-doc",
                           "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    figures = json.loads(out.read_text())["room"]
    assert figures["logins"] == 4, (figures, proc.stderr[-2000:])
    assert figures["errors"] == [] and figures["lost"] == 0, figures
    kinds = figures["by_kind"]
    assert kinds["browser"]["logins"] == 2 and kinds["wire"]["logins"] == 2, kinds
    assert kinds["browser"]["loads"] >= 2 and kinds["wire"]["loads"] >= 2, kinds   # pages opened after the logins
    assert proc.returncode == 0, proc.stderr[-2000:]
