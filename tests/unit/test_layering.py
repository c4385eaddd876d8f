"""engine/ and connectors/ run headless: none of their files may import streamlit."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _streamlit_imports(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(), filename=str(path))
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "streamlit" for a in node.names):
            lines.append(node.lineno)
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "streamlit":
            lines.append(node.lineno)
    return lines


def test_engine_and_connectors_never_import_streamlit() -> None:
    files = sorted((ROOT / "engine").rglob("*.py")) + sorted((ROOT / "connectors").rglob("*.py"))
    assert len(files) > 3
    offenders = {str(f.relative_to(ROOT)): ln for f in files if (ln := _streamlit_imports(f))}
    assert offenders == {}


def test_the_checker_catches_an_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nfrom streamlit import session_state\n")
    assert _streamlit_imports(bad) == [2]
