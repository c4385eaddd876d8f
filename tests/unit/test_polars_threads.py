"""No Python function inside a Polars expression in the code the app runs (engine/frames.py says why: Polars' pool
workers wait for the GIL that `to_pandas` in another session's thread holds while it waits for them — the whole
server froze in a room of sixteen sessions).

The rule is checked on the source (any `.map_elements`, `.map_batches`, `.map_groups`, `.map_rows` attribute in
engine/, connectors/, ui/, pages/ and app.py), and the replacement is checked under the load that froze the server:
`to_pandas` of a wide frame in one thread while another adds Python-computed columns, in a subprocess that must end.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import polars as pl

from engine.frames import py_column

ROOT = Path(__file__).resolve().parents[2]
CALLS_PYTHON = {"map_elements", "map_batches", "map_groups", "map_rows"}
APP_CODE = ("engine", "connectors", "ui", "pages")


def python_in_polars(root: Path = ROOT) -> list[str]:
    files = [f for d in APP_CODE for f in sorted((root / d).rglob("*.py"))] + [root / "app.py"]
    out = []
    for f in files:
        if not f.exists():
            continue
        for node in ast.walk(ast.parse(f.read_text(), filename=str(f))):
            if isinstance(node, ast.Attribute) and node.attr in CALLS_PYTHON:
                out.append(f"{f.relative_to(root).as_posix()}:{node.lineno} .{node.attr}")
    return out


def test_the_app_calls_no_python_inside_polars() -> None:
    assert python_in_polars() == []


def test_the_checker_finds_a_mapped_expression(tmp_path: Path) -> None:
    (tmp_path / "pages").mkdir()
    (tmp_path / "pages" / "p.py").write_text("import polars as pl\nx = pl.col('a').map_elements(str)\n")
    (tmp_path / "engine").mkdir()
    (tmp_path / "engine" / "e.py").write_text("def f(df):\n    return df.map_rows(len)\n")
    assert python_in_polars(tmp_path) == ["engine/e.py:2 .map_rows", "pages/p.py:2 .map_elements"]


def test_py_column_matches_what_map_elements_gave() -> None:
    df = pl.DataFrame({"a": ["x", None, "z"], "b": [1, 2, None]})
    one = py_column(df, "u", str.upper, "a", dtype=pl.Utf8())
    assert one.to_list() == ["X", None, "Z"] and one.name == "u"                 # nulls skipped, as map_elements
    both = py_column(df, "ab", lambda a, b: f"{a}-{b}", "a", "b", dtype=pl.Utf8(), skip_nulls=False)
    assert both.to_list() == ["x-1", "None-2", "z-None"]                          # a struct's rows: every row


def test_python_columns_beside_to_pandas_never_hang() -> None:
    script = textwrap.dedent(f"""
        import sys, threading, time
        sys.path.insert(0, {str(ROOT)!r})
        import polars as pl
        from engine.frames import py_column
        wide = pl.DataFrame({{f"c{{i}}": [str(j) for j in range(200_000)] for i in range(6)}})
        small = pl.DataFrame({{"x": list(range(2_000)), "y": list(range(2_000))}})
        stop, done = time.monotonic() + 4, {{"pandas": 0, "mapped": 0}}
        def pandas():
            while time.monotonic() < stop:
                wide.to_pandas(); done["pandas"] += 1
        def mapped():
            while time.monotonic() < stop:
                small.with_columns(py_column(small, "a", lambda x, y: x + y, "x", "y", dtype=pl.Int64()),
                                   py_column(small, "b", lambda x, y: x - y, "x", "y", dtype=pl.Int64()))
                done["mapped"] += 1
        ts = [threading.Thread(target=pandas), threading.Thread(target=mapped)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        print(done["pandas"], done["mapped"])
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-1000:]
    pandas, mapped = map(int, out.stdout.split())
    assert pandas > 0 and mapped > 0   # both ran, side by side, and ended
