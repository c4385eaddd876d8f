from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from engine import settings as settings_mod
from engine.settings import Settings


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
