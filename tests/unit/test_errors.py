"""One error root: every error a user may read is an ApportionError, and pages catch nothing else to make a message."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import connectors
import engine
from engine.errors import AccessDenied, ApportionError, InputError, NotFound

ROOT = Path(__file__).resolve().parents[2]
BUILTIN_RAISES = {"ValueError", "LookupError", "KeyError", "RuntimeError", "PermissionError", "Exception"}


def _py(*dirs: str) -> list[Path]:
    return [p for d in dirs for p in sorted((ROOT / d).rglob("*.py"))]


def test_engine_and_connectors_raise_no_bare_builtin_errors() -> None:
    found = []
    for path in _py("engine", "connectors"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) \
                    and isinstance(node.exc.func, ast.Name) and node.exc.func.id in BUILTIN_RAISES:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} raises {node.exc.func.id}")
    assert found == []


def test_every_public_error_class_is_under_the_root() -> None:
    classes = {}
    for pkg in (engine, connectors):
        for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
            if info.name.endswith("__main__"):
                continue
            module = importlib.import_module(info.name)
            for name, obj in inspect.getmembers(module, inspect.isclass):
                if obj.__module__ == module.__name__ and issubclass(obj, BaseException) and not name.startswith("_"):
                    classes[f"{module.__name__}.{name}"] = obj
    assert len(classes) >= 10
    assert {n for n, c in classes.items() if not issubclass(c, ApportionError)} == set()


def test_pages_and_ui_catch_only_the_root_to_show_a_message() -> None:
    caught = set()
    for path in _py("pages", "ui") + [ROOT / "app.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ExceptHandler) and node.type is not None:
                names = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
                caught |= {ast.unparse(n) for n in names}
    assert caught == {"ApportionError"}


def test_the_root_keeps_the_builtin_contracts() -> None:
    assert isinstance(InputError("x"), ValueError)
    assert isinstance(NotFound("x"), LookupError) and isinstance(NotFound("x"), KeyError)
    assert str(NotFound("no batch 'b1'")) == "no batch 'b1'"      # KeyError would have quoted it
    assert isinstance(AccessDenied("x"), PermissionError)


def test_a_validation_failure_reads_as_one_message() -> None:
    from engine.reconcile import asset_review

    with pytest.raises(InputError) as info:
        asset_review.parse_dq_config('{"attribute_rules": [{"name": "x", "kind": "allowed"}]}')
    assert str(info.value) == "Data-quality rules: not valid — attribute_rules.0.column: Field required"
