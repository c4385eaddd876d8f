"""Configurable data-quality rules for asset attributes (location, owner, environment, depreciation status).

Assets load even when an attribute is missing — a laptop without a location is still a laptop that costs money —
so quality is judged after loading, by rules a FinOps lead can tune: which classes must carry an owner, which
environment names are allowed, which depreciation facts must exist. The rules are typed data (pydantic), so they
can live in settings or a table and be validated before use; the result is one frame of violations, one row per
asset and broken rule, for the data-quality page and its download.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Literal

import duckdb
import polars as pl
from pydantic import BaseModel, Field, model_validator

from engine.errors import InputError

PHYSICAL = ("laptop", "desktop", "server", "storage", "network")
CLOUD = ("cloud_instance", "cloud_database", "cloud_storage", "cloud_network")
ENVIRONMENTS = ("production", "prod", "nonprod", "staging", "test", "development", "sandbox", "disaster_recovery")
ACTIVE = ("in_use",)

VIOLATION_SCHEMA: dict[str, pl.DataType] = {
    "asset_id": pl.String(), "source": pl.String(), "class": pl.String(), "rule": pl.String(),
    "column": pl.String(), "severity": pl.String(), "value": pl.String(), "message": pl.String(),
}


class Scope(BaseModel):
    """Which assets a rule applies to; an empty list means 'any'."""

    classes: list[str] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)
    lifecycle: list[str] = Field(default_factory=list, description="e.g. ['in_use']; null status counts as in_use")


class AttributeRule(BaseModel):
    """required / allowed values / pattern on one asset column."""

    name: str = Field(min_length=1)
    kind: Literal["required", "allowed", "pattern"]
    column: Literal["location", "owner", "environment", "cost_center_id", "app_id", "asset_tag", "serial", "model",
                    "vendor", "lifecycle_status", "depreciation_method"]
    values: list[str] = Field(default_factory=list, description="allowed values (case-insensitive)")
    pattern: str | None = Field(default=None, description="regular expression the whole value must match")
    scope: Scope = Field(default_factory=Scope)
    severity: Literal["error", "warning"] = "warning"
    message: str | None = None

    @model_validator(mode="after")
    def _complete(self) -> AttributeRule:
        if self.kind == "allowed" and not self.values:
            raise InputError(f"rule '{self.name}': an 'allowed' rule needs values")
        if self.kind == "pattern":
            if not self.pattern:
                raise InputError(f"rule '{self.name}': a 'pattern' rule needs a pattern")
            re.compile(self.pattern)
        return self


class DepreciationRule(BaseModel):
    """Depreciation status: an asset that cost money must be depreciable (purchase date, useful life, method), must
    not be bought in the future, and is flagged when fully depreciated yet still in use (a refresh candidate)."""

    name: str = "depreciation status"
    scope: Scope = Field(default_factory=lambda: Scope(classes=list(PHYSICAL)))
    require_method: bool = True
    flag_fully_depreciated: bool = True
    severity: Literal["error", "warning"] = "warning"


class DqConfig(BaseModel):
    attribute_rules: list[AttributeRule] = Field(default_factory=list)
    depreciation: DepreciationRule | None = Field(default_factory=DepreciationRule)


def default_config() -> DqConfig:
    """What most IT asset teams enforce; a starting point the page lets a FinOps lead edit."""
    in_use = ["in_use"]
    return DqConfig(attribute_rules=[
        AttributeRule(name="location known", kind="required", column="location",
                      scope=Scope(classes=list(PHYSICAL), lifecycle=in_use + ["in_stock"])),
        AttributeRule(name="end-user device has an owner", kind="required", column="owner",
                      scope=Scope(classes=["laptop", "desktop"], lifecycle=in_use), severity="error"),
        AttributeRule(name="server/cloud has an environment", kind="required", column="environment",
                      scope=Scope(classes=["server", *CLOUD], lifecycle=in_use)),
        AttributeRule(name="environment is a known name", kind="allowed", column="environment",
                      values=list(ENVIRONMENTS)),
        AttributeRule(name="cost centre known", kind="required", column="cost_center_id",
                      scope=Scope(lifecycle=in_use)),
    ])


def _scoped(frame: pl.DataFrame, scope: Scope) -> pl.DataFrame:
    out = frame
    if scope.classes:
        out = out.filter(pl.col("class").is_in(scope.classes))
    if scope.sources:
        out = out.filter(pl.col("source").is_in(scope.sources))
    if scope.lifecycle:
        out = out.filter(pl.col("lifecycle_status").fill_null("in_use").is_in(scope.lifecycle))
    return out


def _rows(frame: pl.DataFrame, rule: str, column: str, severity: str, value: pl.Expr, message: pl.Expr | str,
          ) -> pl.DataFrame:
    msg = pl.lit(message) if isinstance(message, str) else message
    return frame.select(pl.col("asset_id"), pl.col("source"), pl.col("class"), pl.lit(rule).alias("rule"),
                        pl.lit(column).alias("column"), pl.lit(severity).alias("severity"),
                        value.cast(pl.String).alias("value"), msg.alias("message"))


def _attribute(frame: pl.DataFrame, r: AttributeRule) -> pl.DataFrame:
    scoped = _scoped(frame, r.scope)
    col = pl.col(r.column).cast(pl.String).str.strip_chars()
    if r.kind == "required":
        bad = scoped.filter(col.is_null() | (col == ""))
        return _rows(bad, r.name, r.column, r.severity, pl.col(r.column), r.message or f"{r.column} is missing")
    if r.kind == "allowed":
        allowed = [v.lower() for v in r.values]
        bad = scoped.filter(col.is_not_null() & ~col.str.to_lowercase().is_in(allowed))
        return _rows(bad, r.name, r.column, r.severity, pl.col(r.column),
                     r.message or f"{r.column} not one of {', '.join(r.values)}")
    assert r.pattern is not None
    bad = scoped.filter(col.is_not_null() & ~col.str.contains(f"^(?:{r.pattern})$"))
    return _rows(bad, r.name, r.column, r.severity, pl.col(r.column),
                 r.message or f"{r.column} does not match {r.pattern}")


def _depreciation(frame: pl.DataFrame, r: DepreciationRule, as_of: date) -> list[pl.DataFrame]:
    scoped = _scoped(frame, r.scope).filter(pl.col("cost").cast(pl.Float64).fill_null(0) > 0)
    out: list[pl.DataFrame] = []
    missing = [c for c in ("purchase_date", "useful_life_months") + (("depreciation_method",) if r.require_method
                                                                      else ())]
    for c in missing:
        bad = scoped.filter(pl.col(c).is_null())
        out.append(_rows(bad, r.name, c, r.severity, pl.col(c), f"cannot depreciate: {c} is missing"))
    future = scoped.filter(pl.col("purchase_date") > pl.lit(as_of))
    out.append(_rows(future, r.name, "purchase_date", "error", pl.col("purchase_date"),
                     f"purchase date after {as_of.isoformat()}"))
    if r.flag_fully_depreciated:
        months = ((as_of.year - pl.col("purchase_date").dt.year()) * 12
                  + (as_of.month - pl.col("purchase_date").dt.month()))
        done = scoped.filter(pl.col("lifecycle_status").fill_null("in_use").is_in(ACTIVE)
                             & pl.col("useful_life_months").is_not_null() & pl.col("purchase_date").is_not_null()
                             & (months >= pl.col("useful_life_months")))
        out.append(_rows(done, r.name, "useful_life_months", "warning", pl.col("useful_life_months"),
                         pl.format("fully depreciated ({} of {} months) but still in use", months,
                                   pl.col("useful_life_months"))))
    return out


def evaluate(assets: pl.DataFrame, config: DqConfig | None = None, *, as_of: date) -> pl.DataFrame:
    """All violations, one row per asset and broken rule, errors first."""
    cfg = config or default_config()
    parts = [_attribute(assets, r) for r in cfg.attribute_rules]
    if cfg.depreciation is not None:
        parts += _depreciation(assets, cfg.depreciation, as_of)
    parts = [p for p in parts if p.height]
    if not parts:
        return pl.DataFrame(schema=VIOLATION_SCHEMA)
    return (pl.concat([p.cast(VIOLATION_SCHEMA) for p in parts])  # type: ignore[arg-type]
            .sort(["severity", "rule", "asset_id"]))


def evaluate_store(con: duckdb.DuckDBPyConnection, config: DqConfig | None = None, *, as_of: date,
                   sources: tuple[str, ...] | None = None) -> pl.DataFrame:
    if sources:
        marks = ", ".join("?" for _ in sources)
        assets = con.sql(f"SELECT * FROM asset WHERE source IN ({marks})", params=list(sources)).pl()
    else:
        assets = con.sql("SELECT * FROM asset").pl()
    return evaluate(assets, config, as_of=as_of)


def summary(violations: pl.DataFrame) -> pl.DataFrame:
    """Violations per rule and severity, for the page's headline table."""
    return violations.group_by("rule", "severity").agg(pl.len().alias("assets")).sort("severity", "rule")
