"""Typed settings: environment (APPORTION_*) first, then .streamlit/secrets.toml, then defaults.

The cookie key has no default on purpose: `make run` writes a random one to the git-ignored
`.streamlit/cookie_key` file, and the app refuses to start without one. The audit key (which seals the audit
trail, engine/store/audit.py) works the same way with `.streamlit/audit_key`; it never lives in the store.
"""

from __future__ import annotations

import os
import secrets
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from engine.errors import ConfigError, InputError

ROOT = Path(__file__).resolve().parents[1]
SECRETS_FILE = ROOT / ".streamlit" / "secrets.toml"
COOKIE_KEY_FILE = ROOT / ".streamlit" / "cookie_key"
AUDIT_KEY_FILE = ROOT / ".streamlit" / "audit_key"


class Settings(BaseSettings):
    """Every setting with a help string, and read somewhere: tests/unit/test_settings.py fails otherwise.

    docs/settings.md is generated from this model (`python -m engine.settings_doc`) and checked by the same tests."""

    model_config = SettingsConfigDict(env_prefix="APPORTION_", extra="ignore", frozen=True)

    db_path: Path = Field(ROOT / "data" / "apportion.duckdb", description="DuckDB file holding all data.")
    upload_max_mb: int = Field(200, ge=1, le=4096, description="Largest upload accepted, in megabytes.")
    duckdb_memory_limit_mb: int | None = Field(
        None, ge=64,
        description="DuckDB's memory limit for the store's connections, in MiB (beyond it DuckDB spills to its "
        "temp directory). Unset: DuckDB's default, 80 % of the machine's memory. Ingest parses and loads keep "
        "their own, lower budgets (docs/ingestion.md).",
    )
    duckdb_temp_dir: Path | None = Field(
        None,
        description="Where DuckDB spills when a query outgrows the memory limit. Unset: DuckDB's default, "
        "`<store file>.tmp` beside the store.",
    )
    redelivery_drop_warn_pct: float = Field(
        50, ge=0, le=100,
        description="A re-delivered billing month whose effective cost drops by more than this percentage gets a "
        "loud warning before (and after) the replacement is confirmed (docs/ingestion.md).",
    )
    cookie_key: str | None = Field(
        None, min_length=32, description="Secret that signs the login cookie (32+ chars, never a default)."
    )
    cookie_name: str = Field("apportion_auth", description="Name of the login cookie.")
    cookie_expiry_days: float = Field(
        0.5, gt=0, le=7,
        description="Longest life of a sign-in (its server-side session and the cookie), in days; logout, an "
        "admin's disable and the idle timeout end it sooner.",
    )
    cookie_secure: bool = Field(
        False,
        description="Mark the login cookie Secure (sent over HTTPS only). Turn on behind TLS; the app also sets it "
        "by itself when the browser's address is https://.",
    )
    session_idle_minutes: float = Field(
        30, gt=0, le=1440, description="Minutes without activity after which a sign-in ends (idle timeout)."
    )
    login_max_failures: int = Field(
        5, ge=1, le=100, description="Consecutive failed sign-ins to one username that lock it (lockout)."
    )
    login_lockout_minutes: float = Field(
        15, gt=0, le=1440,
        description="Minutes a locked username stays locked; even the right password is refused until then.",
    )
    sso_username_claim: str = Field(
        "preferred_username", min_length=1,
        description="Single sign-on: the OIDC claim that names the Apportion user (docs/security.md).",
    )
    sso_username_fallback_claim: str = Field(
        "email", min_length=1,
        description="Single sign-on: the claim used for the username when the username claim is missing.",
    )
    sso_role_claim: str = Field(
        "apportion_role", min_length=1,
        description="Single sign-on: the claim holding the user's role (admin, finops, executive, app_owner, "
        "auditor); any other value is refused.",
    )
    sso_scope_claim: str = Field(
        "cost_centers", min_length=1,
        description="Single sign-on: the claim holding an app owner's cost centres (a list, or a comma-separated "
        "string); an app owner without one is refused.",
    )
    sso_create_users: bool = Field(
        True,
        description="Single sign-on: create an unknown user at their first sign-in (just in time); off, only "
        "users an administrator added may sign in.",
    )
    currency: str = Field("USD", pattern=r"^[A-Z]{3}$", description="Reporting currency (ISO 4217).")
    company_code: str = Field(
        "1000", pattern=r"^[A-Za-z0-9]{1,4}$",
        description="Company code the ERP journals post to (SAP BUKRS, Oracle balancing segment SEGMENT1).",
    )
    ledger_id: int = Field(1, ge=1, description="Oracle General Ledger LEDGER_ID written in GL_INTERFACE journals.")
    fiscal_year_start_month: int = Field(
        1, ge=1, le=12,
        description="Month (1-12) the fiscal year starts; moves the half-year and mid-quarter depreciation "
        "conventions in month close and what-if.",
    )
    fiscal_period_scheme: Literal["calendar", "4-4-5", "4-5-4", "5-4-4"] = Field(
        "calendar",
        description="Fiscal periods: calendar months, or 4-4-5 / 4-5-4 / 5-4-4 weeks per quarter (years start on "
        "the Monday nearest the 1st of the start month; docs/fiscal-calendar.md). Month close picks cost lines by "
        "their charge date in the period's weeks.",
    )
    provision_owner_limit: Decimal = Field(
        Decimal("1000"), ge=0,
        description="Provisioning requests over quota or budget costing up to this much a month escalate to the "
        "cost centre's owner; above it, to FinOps.",
    )
    provision_finance_limit: Decimal = Field(
        Decimal("10000"), ge=0,
        description="Provisioning requests over quota or budget costing more than this a month escalate to "
        "finance (the executive role) instead of FinOps.",
    )
    demo_mode: bool = Field(True, description="Show demo logins on the login screen while demo data is loaded.")
    sources_in_app: bool = Field(
        True,
        description="Run due live sources (docs/sources.md) in a scheduler thread of the app process, the store's "
        "single writer; turn off when a cron job runs `python -m engine sources run --due` instead.",
    )
    sources_tick_seconds: float = Field(
        60, ge=1, le=3600, description="How often the in-app scheduler looks for due sources, in seconds.",
    )
    jobs_in_app: bool = Field(
        True,
        description="Run `python -m engine …` commands submitted while the app holds the store in a job-runner "
        "thread of the app (docs/architecture.md, \"Jobs while the app runs\"); off, such a command waits for the "
        "store and gives up.",
    )
    cli_wait_seconds: float = Field(
        30, ge=0, le=86400,
        description="Default of the CLI's `--wait`: how long a command waits for a store another process holds, "
        "or for the app to pick up its job.",
    )
    audit_key: str | None = Field(
        None, min_length=32,
        description="Secret that seals the audit trail (HMAC-SHA256, 32+ chars, never a default; kept out of the "
        "store). To rotate: the new key, a space, then every retired key (docs/security.md).",
    )

    @field_validator("audit_key")
    @classmethod
    def _audit_keys_are_long(cls, v: str | None) -> str | None:
        if v is not None:
            parts = v.split()
            if not parts or any(len(k) < 32 for k in parts):
                raise InputError("audit_key: every key (space-separated) must be at least 32 characters")
            if any("replace-with" in k for k in parts):
                raise InputError("audit_key is still the example value; generate a random one")
        return v

    @field_validator("cookie_key")
    @classmethod
    def _not_the_example_key(cls, v: str | None) -> str | None:
        if v is not None and "replace-with" in v:
            raise InputError("cookie_key is still the example value; generate a random one")
        return v

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=SECRETS_FILE)
        return (init_settings, env_settings, toml)

    def resolved_cookie_key(self) -> str:
        """The configured key, else the generated one; raises when neither exists."""
        if self.cookie_key:
            return self.cookie_key
        if COOKIE_KEY_FILE.exists():
            key = COOKIE_KEY_FILE.read_text().strip()
            if len(key) >= 32:
                return key
        raise ConfigError(
            "No cookie key configured: set APPORTION_COOKIE_KEY, add cookie_key to .streamlit/secrets.toml, "
            "or run `make run`, which generates one into .streamlit/cookie_key."
        )


    def resolved_audit_keys(self, *, create: bool = False) -> tuple[str, ...]:
        """The audit keys, signing key first: the configured ones, else the generated key file.

        With `create`, a missing key file is generated (the first recorded event of a fresh install); without it a
        missing key raises, because verifying with a new key would only report every event as forged."""
        if self.audit_key:
            return tuple(self.audit_key.split())
        if not AUDIT_KEY_FILE.exists() and create:
            ensure_audit_key_file()
        if AUDIT_KEY_FILE.exists():
            keys = tuple(AUDIT_KEY_FILE.read_text().split())
            if keys and all(len(k) >= 32 for k in keys):
                return keys
        raise ConfigError(
            "No audit key configured: set APPORTION_AUDIT_KEY, add audit_key to .streamlit/secrets.toml, or run "
            "`make run`, which generates one into .streamlit/audit_key. Without the key that sealed the trail it "
            "cannot be verified: restore that key rather than making a new one."
        )


def ensure_cookie_key_file() -> Path:
    """Write a random cookie key to the git-ignored key file when none exists (used by `make run`)."""
    if not COOKIE_KEY_FILE.exists():
        COOKIE_KEY_FILE.parent.mkdir(parents=True, exist_ok=True)
        COOKIE_KEY_FILE.write_text(secrets.token_urlsafe(48))
        COOKIE_KEY_FILE.chmod(0o600)
    return COOKIE_KEY_FILE


def ensure_audit_key_file() -> Path:
    """Write a random audit key to the git-ignored key file when none exists (used by `make run`)."""
    if not AUDIT_KEY_FILE.exists():
        AUDIT_KEY_FILE.parent.mkdir(parents=True, exist_ok=True)
        AUDIT_KEY_FILE.touch(mode=0o600)
        AUDIT_KEY_FILE.chmod(0o600)
        AUDIT_KEY_FILE.write_text(secrets.token_urlsafe(48))
    return AUDIT_KEY_FILE


_SETTINGS_CACHE: dict[tuple[object, ...], Settings] = {}


def get_settings() -> Settings:
    """The settings in force: built again whenever an APPORTION_* variable or the secrets file changed, else the
    same object (building costs ~0.4 ms, and pages format every amount through settings: measured ~20 % of a
    workshop move's script time before this cache). Treat the result as read-only."""
    try:
        st = SECRETS_FILE.stat()
        stamp: tuple[object, ...] = (str(SECRETS_FILE), st.st_mtime_ns, st.st_size)
    except OSError:
        stamp = (str(SECRETS_FILE), None)
    key = (tuple(sorted((k.upper(), v) for k, v in os.environ.items() if k.upper().startswith("APPORTION_"))), stamp)
    hit = _SETTINGS_CACHE.get(key)
    if hit is None:
        hit = Settings()
        if len(_SETTINGS_CACHE) > 64:   # tests switch stores and keys often; keep only recent variants
            _SETTINGS_CACHE.clear()
        _SETTINGS_CACHE[key] = hit
    return hit
