"""The architecture's import edges, held by a test (docs/architecture.md, "Layout and import direction").

- engine/ and connectors/ run headless: none of their files imports streamlit (ruff's banned-api says so too).
- connectors/ talk to the engine only through the ingest contract (engine/ingest/contract/) and the error root.
- Only the registry (engine/ingest/registry.py) imports connectors; the rest of the engine asks the registry.
- The contract depends on nothing above it but the store's helpers and, for `run_plan_to_frame`, the staging it
  runs (imported inside that function).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CONTRACT_FOR_CONNECTORS = ("engine.errors", "engine.ingest.contract")
CONNECTOR_IMPORTERS = ("engine/ingest/registry.py",)
BELOW_CONTRACT = ("engine.errors", "engine.store", "engine.ingest.contract", "engine.ingest.staging")


def imports(path: Path, root: Path) -> list[tuple[int, str]]:
    """(line, module) for every import statement; `from a.b import c` counts as a.b.c (c may be a module) and
    relative imports are resolved against the file's package."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = path.relative_to(root).with_suffix("").parts[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                kept = package[: len(package) - node.level + 1]
                base = ".".join([*kept, base] if base else kept)
            found += [(node.lineno, f"{base}.{a.name}") for a in node.names]
    return sorted(found)


def _under(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _rule(rel: str, module: str) -> str | None:
    top = module.split(".")[0]
    if top == "streamlit":
        return "engine/ and connectors/ run headless"
    if rel.startswith("connectors/") and top == "engine" and not _under(module, CONTRACT_FOR_CONNECTORS):
        return "connectors reach the engine only through engine.ingest.contract"
    if rel.startswith("engine/") and top == "connectors" and rel not in CONNECTOR_IMPORTERS:
        return "only engine/ingest/registry.py finds connectors"
    if rel.startswith("engine/ingest/contract/") and top == "engine" and not _under(module, BELOW_CONTRACT):
        return "the ingest contract sits below the rest of the engine"
    return None


def violations(root: Path = ROOT) -> list[str]:
    out: list[str] = []
    for f in sorted((root / "engine").rglob("*.py")) + sorted((root / "connectors").rglob("*.py")):
        rel = f.relative_to(root).as_posix()
        for line, module in imports(f, root):
            if (why := _rule(rel, module)) is not None:
                out.append(f"{rel}:{line} imports {module}: {why}")
    return out


def test_only_the_named_import_edges_exist() -> None:
    assert len(list((ROOT / "engine").rglob("*.py"))) > 50
    assert violations() == []


def test_the_checker_catches_each_kind_of_edge(tmp_path: Path) -> None:
    files = {
        "engine/insights/spike.py": "from connectors.billing import focus\n",
        "engine/ingest/registry.py": "import connectors\nfrom connectors.billing import focus\n",
        "engine/outputs/page.py": "import os\nfrom streamlit import session_state\n",
        "connectors/billing/new.py": "from engine.ingest.contract.rules import q\nfrom engine.ingest import pipeline\n",
        "connectors/usage/rel.py": "from ..._kit import source_rows\nfrom ...engine.store import audit\n",
        "engine/ingest/contract/bad.py": "from engine.insights import overview\nfrom engine.store.sql import q\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert violations(tmp_path) == [
        "engine/ingest/contract/bad.py:1 imports engine.insights.overview: the ingest contract sits below the rest "
        "of the engine",
        "engine/insights/spike.py:1 imports connectors.billing.focus: only engine/ingest/registry.py finds connectors",
        "engine/outputs/page.py:2 imports streamlit.session_state: engine/ and connectors/ run headless",
        "connectors/billing/new.py:2 imports engine.ingest.pipeline: connectors reach the engine only through "
        "engine.ingest.contract",
        "connectors/usage/rel.py:2 imports engine.store.audit: connectors reach the engine only through "
        "engine.ingest.contract",
    ]
