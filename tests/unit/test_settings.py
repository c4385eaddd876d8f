from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest
from pydantic import Field, ValidationError

from engine import settings as settings_mod
from engine.settings import Settings
from engine.settings_doc import DOC_FILE, settings_markdown

ROOT = Path(__file__).resolve().parents[2]
SETTINGS_FILE = ROOT / "engine" / "settings.py"
# Where settings may be read: the engine, the UI and its pages, the entry script and the demo-data scripts.
READERS = ("engine", "ui", "pages", "app.py", "data")
# Settings read through a Settings method rather than as an attribute, with why. The method must read the field in
# engine/settings.py and be called outside it.
READ_THROUGH = {
    "cookie_key": ("resolved_cookie_key", "falls back to the generated .streamlit/cookie_key when unset"),
}


def test_every_setting_is_documented() -> None:
    undocumented = [name for name, f in Settings.model_fields.items() if not (f.description or "").strip()]
    assert undocumented == []


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("APPORTION_DB_PATH", str(tmp_path / "x.duckdb"))
    monkeypatch.setenv("APPORTION_CURRENCY", "EUR")
    monkeypatch.setenv("APPORTION_FISCAL_YEAR_START_MONTH", "4")
    s = Settings()
    assert s.db_path == tmp_path / "x.duckdb" and s.currency == "EUR" and s.fiscal_year_start_month == 4


def test_secrets_toml_is_read_after_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secrets_file = tmp_path / "secrets.toml"
    secrets_file.write_text('currency = "GBP"\nupload_max_mb = 50\n')
    monkeypatch.setattr(settings_mod, "SECRETS_FILE", secrets_file)
    monkeypatch.delenv("APPORTION_CURRENCY", raising=False)
    assert Settings().currency == "GBP" and Settings().upload_max_mb == 50
    monkeypatch.setenv("APPORTION_CURRENCY", "JPY")
    assert Settings().currency == "JPY"


def test_no_known_default_cookie_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("APPORTION_COOKIE_KEY", raising=False)
    monkeypatch.setattr(settings_mod, "SECRETS_FILE", tmp_path / "none.toml")
    monkeypatch.setattr(settings_mod, "COOKIE_KEY_FILE", tmp_path / "cookie_key")
    with pytest.raises(RuntimeError, match="No cookie key"):
        Settings().resolved_cookie_key()
    with pytest.raises(ValidationError):
        Settings(cookie_key="replace-with-at-least-32-random-characters")
    with pytest.raises(ValidationError):
        Settings(cookie_key="short")
    key_file = settings_mod.ensure_cookie_key_file()
    key = Settings().resolved_cookie_key()
    assert key == key_file.read_text() and len(key) >= 32
    assert settings_mod.ensure_cookie_key_file().read_text() == key  # generated once, then kept
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"


def _reader_files() -> list[Path]:
    files: list[Path] = []
    for name in READERS:
        path = ROOT / name
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return [f for f in files if f != SETTINGS_FILE]


def _attributes(files: Iterable[Path]) -> set[str]:
    """Every `.name` read or written anywhere in the files (the AST, so comments and strings do not count)."""
    names: set[str] = set()
    for f in files:
        tree = ast.parse(f.read_text(encoding="utf-8"), filename=str(f))
        names |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    return names


def _read_by_method(field: str, method: str) -> bool:
    tree = ast.parse(SETTINGS_FILE.read_text(encoding="utf-8"))
    return any(isinstance(fn, ast.FunctionDef) and fn.name == method
               and any(isinstance(n, ast.Attribute) and n.attr == field for n in ast.walk(fn))
               for fn in ast.walk(tree))


def unread_settings(model: type[Settings], attributes: set[str]) -> list[str]:
    """Fields of `model` that nothing outside engine/settings.py reads (directly or through READ_THROUGH)."""
    unread: list[str] = []
    for name in model.model_fields:
        if name in READ_THROUGH:
            method, _why = READ_THROUGH[name]
            if method in attributes and _read_by_method(name, method):
                continue
        elif name in attributes:
            continue
        unread.append(name)
    return unread


def test_every_setting_is_read_somewhere() -> None:
    files = _reader_files()
    assert len(files) > 20 and ROOT / "app.py" in files
    assert unread_settings(Settings, _attributes(files)) == [], (
        "declared settings that nothing reads: read them, or remove them (and regenerate docs/settings.md)")


def test_the_read_check_catches_an_unread_setting() -> None:
    class WithDummy(Settings):
        dummy_never_read: int = Field(0, description="A setting nothing reads.")

    attributes = _attributes(_reader_files())
    assert unread_settings(WithDummy, attributes) == ["dummy_never_read"]
    # A read-through exception only counts while its method is actually called outside settings.py.
    assert unread_settings(Settings, attributes - {"resolved_cookie_key"}) == ["cookie_key"]


def test_settings_doc_is_generated_from_the_model() -> None:
    text = settings_markdown()
    for name in Settings.model_fields:
        assert f"| `{name}` | `APPORTION_{name.upper()}` |" in text
    assert "`data/apportion.duckdb`" in text and str(ROOT) not in text  # no machine-specific default paths
    assert DOC_FILE.read_text(encoding="utf-8") == text, (
        "docs/settings.md is stale: regenerate it with `python -m engine.settings_doc`")
