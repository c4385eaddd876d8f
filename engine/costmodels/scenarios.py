"""Cost-recovery scenarios: named, versioned parameters applied to a posted allocation, and their comparison.

A scenario never changes the allocation; it decides what each target is *charged* for what was allocated to it, and
shows every difference as its own component so a business unit can see why it pays what it pays:

    charge = direct + shared − subsidy − commitment_central + markup + penalty + rate_variance

`direct` and `shared` are the allocated cost (posted cents); the other components are zero unless the scenario's
model uses them (`commitment_central` only when an unused-commitment policy is set and names its pools: the unused
commitment kept by IT, less — under ``on_demand_equivalent`` — the savings IT keeps because consumers pay their
covered usage at on-demand prices; so the two policies differ by exactly those savings). Showback
charges nothing (``invoiced`` = 0) but shows the full allocated cost as its charge, so it is the natural baseline.
The unallocated line is absorbed centrally: no subsidy, markup or penalty applies to it.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

import duckdb
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.costmodels.commitments import UnusedPolicy
from engine.costmodels.pricing import round_to_total
from engine.errors import InputError, NotFound
from engine.rules.model import UNALLOCATED
from engine.store import audit, transaction
from engine.store.sql import frame

Model = Literal["showback", "full_recovery", "subsidised", "markup", "rate_card"]
MatchColumn = Literal["source_pool", "step_name", "service_name", "target_id", "cost_center_id", "app_id",
                      "business_unit_id"]
Dimension = Literal["business_unit", "cost_center", "application"]
UNASSIGNED = "UNASSIGNED"   # a cost centre (or its business unit) that is not in the org tree
NO_APPLICATION = "(none)"   # a cost-centre target by application: no application
HUNDRED = Decimal(100)
MONEY = pl.Decimal(18, 2)
COMPONENTS = ["direct", "shared", "subsidy", "commitment_central", "markup", "penalty", "rate_variance"]
CREDITS = {"subsidy", "commitment_central"}
DIMENSION_COLUMN: dict[str, str] = {"business_unit": "business_unit_id", "cost_center": "cost_center_id",
                                    "application": "app_id"}
REQUIRED = ["target_kind", "target_id", "cost_center_id", "app_id", "source_pool", "method", "posted_amount"]


class Subsidy(BaseModel):
    """`pct` of the allocated cost of rows whose `column` is one of `values` is carried centrally.

    A row matching several subsidies takes the first one listed, so two rules never subsidise the same cent twice.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    column: MatchColumn = "source_pool"
    values: list[str] = Field(min_length=1)
    pct: Decimal = Field(ge=0, le=100)
    label: str = ""

    def describe(self) -> str:
        return self.label or f"{self.pct}% of {self.column} in {', '.join(self.values)}"


class Scenario(BaseModel):
    """A named set of cost-model parameters; saved as a new version on every change."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    model: Model
    description: str = ""
    subsidies: list[Subsidy] = Field(default_factory=list)
    markup_pct: Decimal = Field(default=Decimal(0), ge=0, le=1000)
    markup_base: Literal["gross", "net_of_subsidy"] = "gross"
    idle_penalty_pct: Decimal = Field(default=Decimal(0), ge=0, le=1000)
    unused_commitment_policy: UnusedPolicy | None = None
    unused_commitment_pools: list[str] = Field(default_factory=list)
    rate_card: str | None = None
    direct_methods: list[str] = Field(default_factory=lambda: ["direct"])
    direct_pools: list[str] = Field(default_factory=list)
    version: int | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        adjusted = bool(self.subsidies) or self.markup_pct > 0
        if self.model == "showback" and (adjusted or self.idle_penalty_pct > 0):
            raise InputError("showback shows the allocated cost as is: no subsidy, markup or penalty")
        if self.model == "full_recovery" and adjusted:
            raise InputError("full recovery charges exactly the allocated cost: use subsidised or markup")
        if self.unused_commitment_policy is not None and not self.unused_commitment_pools:
            raise InputError("an unused-commitment policy needs the source pools that hold unused commitment")
        if self.unused_commitment_policy is None and self.unused_commitment_pools:
            raise InputError("unused-commitment pools are named but no policy is chosen")
        if self.model == "rate_card":
            if not self.rate_card:
                raise InputError("a rate-card scenario names its rate card")
            if adjusted:
                raise InputError("a rate card prices usage directly: no subsidy or markup on top")
        return self

    @property
    def invoiced(self) -> bool:
        return self.model != "showback"


def _check_columns(allocated: pl.DataFrame) -> None:
    missing = [c for c in REQUIRED if c not in allocated.columns]
    if missing:
        raise InputError(f"allocated frame lacks columns {missing}")


def with_business_units(allocated: pl.DataFrame, org_units: pl.DataFrame) -> pl.DataFrame:
    """Add business_unit_id: a cost centre's parent, the target itself for business-unit targets, UNALLOCATED for
    the unallocated line and UNASSIGNED when the cost centre is not in the org tree."""
    parents = org_units.select(pl.col("unit_id").alias("cost_center_id"), pl.col("parent_id").alias("_bu"))
    out = allocated.drop("business_unit_id", strict=False).join(parents, on="cost_center_id", how="left")
    return out.with_columns(
        pl.when(pl.col("target_id") == UNALLOCATED).then(pl.lit(UNALLOCATED))
        .when(pl.col("target_kind") == "business_unit").then(pl.col("target_id"))
        .otherwise(pl.col("_bu").fill_null(UNASSIGNED)).alias("business_unit_id")
    ).drop("_bu")


def load_allocated(con: duckdb.DuckDBPyConnection, run_key: str) -> pl.DataFrame:
    """A posted run's result rows with business_unit_id, ready for apply_scenario/compare."""
    rows = con.sql("SELECT * FROM allocation_result WHERE run_key = ? ORDER BY step, source_pool, target_kind,"
                   " target_id", params=[run_key]).pl()
    org = con.sql("SELECT unit_id, parent_id FROM org_unit").pl()
    return with_business_units(rows, org)


def from_whatif_rows(con: duckdb.DuckDBPyConnection, rows: pl.DataFrame) -> pl.DataFrame:
    """Shape engine.allocation.whatif.evaluate_rows output like allocation_result (cost centre, application,
    posted_amount, business unit) so a workshop can compare scenarios on unposted what-if results."""
    apps = con.sql("SELECT app_id AS _app, cost_center_id AS _app_cc FROM application").pl()
    shaped = rows.join(apps, left_on="target_id", right_on="_app", how="left", maintain_order="left").with_columns(
        pl.when(pl.col("target_kind") == "cost_center").then(pl.col("target_id"))
        .when(pl.col("target_kind") == "application").then(pl.col("_app_cc"))
        .otherwise(pl.lit(None, dtype=pl.String)).alias("cost_center_id"),
        pl.when(pl.col("target_kind") == "application").then(pl.col("target_id"))
        .otherwise(pl.lit(None, dtype=pl.String)).alias("app_id"),
        pl.col("amount").cast(MONEY).alias("posted_amount"),
    ).drop("_app_cc")
    return with_business_units(shaped, con.sql("SELECT unit_id, parent_id FROM org_unit").pl())


_GROUP = ["target_kind", "target_id", "cost_center_id", "app_id", "business_unit_id"]


def _group_key(row: dict[str, object]) -> tuple[object, ...]:
    return tuple(row.get(c) for c in _GROUP)


def _sort_key(key: tuple[object, ...]) -> tuple[str, ...]:
    return tuple("" if v is None else str(v) for v in key)


Key = tuple[object, ...]


@dataclass
class _Sums:
    """Per-target exact sums gathered in one pass over the result rows."""

    direct: dict[Key, Decimal] = field(default_factory=dict)
    shared: dict[Key, Decimal] = field(default_factory=dict)
    subsidy_raw: list[dict[Key, Decimal]] = field(default_factory=list)
    subsidy_base: dict[Key, Decimal] = field(default_factory=dict)
    central_uc: dict[Key, Decimal] = field(default_factory=dict)


def _accumulate(allocated: pl.DataFrame, scenario: Scenario) -> _Sums:
    """Direct/shared split, subsidy (exact, first matching rule) and centrally carried commitment per target."""
    sums = _Sums(subsidy_raw=[{} for _ in scenario.subsidies])
    direct_methods, direct_pools = set(scenario.direct_methods), set(scenario.direct_pools)
    carry_uc = scenario.unused_commitment_policy in ("keep_central", "on_demand_equivalent")
    uc_pools = set(scenario.unused_commitment_pools)
    cols = list(dict.fromkeys(_GROUP + ["source_pool", "method", "posted_amount", "step_name", "service_name"]))
    frame = allocated.select([c if c in allocated.columns else pl.lit(None, dtype=pl.String).alias(c) for c in cols])
    for row in frame.iter_rows(named=True):
        key = _group_key(row)
        amount = Decimal(row["posted_amount"])
        is_direct = row["method"] in direct_methods or row["source_pool"] in direct_pools
        sums.direct[key] = sums.direct.get(key, Decimal(0)) + (amount if is_direct else 0)
        sums.shared[key] = sums.shared.get(key, Decimal(0)) + (0 if is_direct else amount)
        if row["target_id"] == UNALLOCATED:
            continue
        if carry_uc and row["source_pool"] in uc_pools:
            sums.central_uc[key] = sums.central_uc.get(key, Decimal(0)) + amount
            continue
        for i, s in enumerate(scenario.subsidies):
            if row.get(s.column) in s.values:
                sums.subsidy_raw[i][key] = sums.subsidy_raw[i].get(key, Decimal(0)) + amount * s.pct / HUNDRED
                sums.subsidy_base[key] = sums.subsidy_base.get(key, Decimal(0)) + amount
                break
    return sums


def _by_target(frame: pl.DataFrame | None, value: str, keys: list[Key], what: str) -> dict[Key, Decimal]:
    """A per-target input (idle cost, rate-card charge) mapped onto the result keys; unknown targets are refused."""
    if frame is None:
        return {}
    totals_: dict[str, Decimal] = {}
    for t, v in frame.select("target_id", value).iter_rows():
        totals_[t] = totals_.get(t, Decimal(0)) + Decimal(v)
    known = {str(k[1]): k for k in keys}
    unknown = sorted(set(totals_) - set(known))
    if unknown:
        raise InputError(f"{what} for targets with no allocated row in this run: {unknown}")
    return {known[t]: v for t, v in totals_.items()}


def apply_scenario(allocated: pl.DataFrame, scenario: Scenario, *, idle: pl.DataFrame | None = None,
                   rate_charges: pl.DataFrame | None = None, on_demand: pl.DataFrame | None = None) -> pl.DataFrame:
    """Per target: allocated cost, its decomposition and the charge under `scenario`, all in cents.

    `idle` (target_id, idle_cost) is the base for the idle penalty; `rate_charges` (target_id, charge) are the
    rate-card prices of each target's usage (costmodels.ratecard) for a rate-card scenario. Each component is rounded
    with largest remainder across targets, so the scenario totals are the rounded totals of the exact amounts and
    every target's charge is exactly the sum of its components.

    `on_demand` (target_id, uplift) is, per target, the on-demand price of its commitment-covered usage minus what
    that usage cost at the commitment's effective rate; an ``on_demand_equivalent`` scenario needs it (consumers
    pay the uplift, IT keeps it as savings against the unused commitment it carries). Targets with no allocated row
    leave their uplift central.
    """
    _check_columns(allocated)
    if scenario.unused_commitment_policy == "on_demand_equivalent" and on_demand is None:
        raise InputError("the on-demand-equivalent policy needs each target's on-demand uplift of its covered usage"
                         " (engine.insights.comparison.on_demand_uplift)")
    if "business_unit_id" not in allocated.columns:
        allocated = allocated.with_columns(pl.lit(None, dtype=pl.String).alias("business_unit_id"))
    if scenario.model == "rate_card" and rate_charges is None:
        raise InputError("a rate-card scenario needs rate_charges (engine.costmodels.ratecard.charges_by_target)")
    sums = _accumulate(allocated, scenario)
    keys = sorted(sums.direct, key=_sort_key)
    chargeable = [k for k in keys if k[1] != UNALLOCATED]
    zero = {k: Decimal(0) for k in keys}

    def rounded(raw: dict[Key, Decimal]) -> dict[Key, Decimal]:
        return zero | round_to_total({k: raw.get(k, Decimal(0)) for k in chargeable}, order=chargeable)

    subsidy = dict(zero)
    for raw in sums.subsidy_raw:
        for k, v in rounded(raw).items():
            subsidy[k] += v
    uc = {k: sums.central_uc.get(k, Decimal(0)) for k in keys}
    if scenario.unused_commitment_policy == "on_demand_equivalent" and on_demand is not None:
        known = {str(k[1]): k for k in chargeable}
        uplift: dict[Key, Decimal] = {}
        for t, v in on_demand.select("target_id", "uplift").iter_rows():
            if t in known and v is not None:
                uplift[known[t]] = uplift.get(known[t], Decimal(0)) + Decimal(v)
        for k, v in rounded(uplift).items():
            uc[k] -= v   # the savings IT keeps: consumers pay their covered usage at on-demand prices
    markup_base = {k: sums.direct[k] + sums.shared[k] - sums.central_uc.get(k, Decimal(0)) for k in chargeable}
    if scenario.markup_base == "net_of_subsidy":
        for k in chargeable:
            markup_base[k] -= sum((raw.get(k, Decimal(0)) for raw in sums.subsidy_raw), Decimal(0))
    markup = rounded({k: b * scenario.markup_pct / HUNDRED for k, b in markup_base.items()})
    idle_cost = _by_target(idle, "idle_cost", chargeable, "idle penalty")
    penalty = rounded({k: c * scenario.idle_penalty_pct / HUNDRED for k, c in idle_cost.items()})
    rate_variance = dict(zero)
    if scenario.model == "rate_card":
        priced = _by_target(rate_charges, "charge", chargeable, "rate-card charges")
        for k in chargeable:
            rate_variance[k] = priced.get(k, Decimal(0)) - sums.direct[k] - sums.shared[k] + uc[k]

    rows = []
    for k in keys:
        allocated_k = sums.direct[k] + sums.shared[k]
        charge = allocated_k - subsidy[k] - uc[k] + markup[k] + penalty[k] + rate_variance[k]
        rows.append({
            "scenario": scenario.name, "model": scenario.model, **dict(zip(_GROUP, k, strict=True)),
            "allocated": allocated_k, "direct": sums.direct[k], "shared": sums.shared[k], "subsidy": subsidy[k],
            "commitment_central": uc[k], "markup": markup[k], "penalty": penalty[k],
            "rate_variance": rate_variance[k], "charge": charge,
            "invoiced": charge if scenario.invoiced and k[1] != UNALLOCATED else Decimal(0),
            "subsidy_base": sums.subsidy_base.get(k, Decimal(0)),
        })
    schema: dict[str, pl.DataType] = {"scenario": pl.String(), "model": pl.String()}
    schema |= {c: pl.String() for c in _GROUP}
    schema |= {c: MONEY for c in ["allocated", *COMPONENTS, "charge", "invoiced", "subsidy_base"]}
    return pl.DataFrame(rows, schema=schema, orient="row")


def totals(applied: pl.DataFrame) -> dict[str, Decimal]:
    """Scenario totals for the header of a comparison: what IT recovers and what it carries centrally."""
    money = ["allocated", *COMPONENTS, "charge", "invoiced"]
    out = {c: Decimal(applied[c].sum()) for c in money}
    out["unallocated"] = Decimal(applied.filter(pl.col("target_id") == UNALLOCATED)["allocated"].sum())
    out["recovered_vs_allocated"] = out["invoiced"] - out["allocated"]
    return out


def compare(allocated: pl.DataFrame, scenarios: Sequence[Scenario], baseline: Scenario | str, *,
            by: Dimension = "business_unit", org_units: pl.DataFrame | None = None, idle: pl.DataFrame | None = None,
            rate_charges: pl.DataFrame | None = None, cost_centers: Collection[str] | None = None,
            on_demand: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per scenario and business unit (or cost centre, or application): charge, delta to the baseline and
    the delta split into its causes (delta = Σ delta_<component>; a subsidy or a centrally
    carried commitment lowers the charge, so its delta is the negative of its change).

    `cost_centers` scopes the output (an app owner's view) *after* the scenarios are applied to the whole run, so
    the cents a scoped user sees are the cents everyone else sees (largest remainder is decided run-wide)."""
    if org_units is not None:
        allocated = with_business_units(allocated, org_units)
    elif by == "business_unit" and "business_unit_id" not in allocated.columns:
        raise InputError("comparing by business unit needs org_units or a business_unit_id column")
    base = baseline if isinstance(baseline, Scenario) else next((s for s in scenarios if s.name == baseline), None)
    if base is None:
        raise InputError(f"baseline {baseline!r} is not one of the scenarios")
    names = [s.name for s in scenarios]
    if len(names) != len(set(names)):
        raise InputError(f"scenario names must be unique: {names}")
    dim = DIMENSION_COLUMN[by]
    money = ["allocated", *COMPONENTS, "charge", "invoiced"]

    def rollup(s: Scenario) -> pl.DataFrame:
        applied = apply_scenario(allocated, s, idle=idle, rate_charges=rate_charges, on_demand=on_demand)
        if cost_centers is not None:
            applied = applied.filter(pl.col("cost_center_id").is_in(sorted(set(cost_centers))))
        label = NO_APPLICATION if by == "application" else UNASSIGNED
        # the unallocated line has one name on every dimension: UNALLOCATED (engine/rules/model.py)
        return (applied.with_columns(pl.when(pl.col("target_id") == UNALLOCATED).then(pl.lit(UNALLOCATED))
                                     .otherwise(pl.col(dim).fill_null(label)).alias(dim))
                .group_by(dim).agg(pl.col(c).sum() for c in money)
                .with_columns(pl.lit(s.name).alias("scenario")))

    base_frame = rollup(base).select(dim, *[pl.col(c).alias(f"_b_{c}") for c in ["charge", *COMPONENTS]])
    frames = []
    for s in scenarios:
        f = rollup(s).join(base_frame, on=dim, how="full", coalesce=True)
        f = f.with_columns([pl.col(c).fill_null(Decimal(0)) for c in money]
                           + [pl.col(f"_b_{c}").fill_null(Decimal(0)) for c in ["charge", *COMPONENTS]])
        f = f.with_columns(
            (pl.col("charge") - pl.col("_b_charge")).alias("delta"),
            *[(pl.col(c) - pl.col(f"_b_{c}")).alias(f"delta_{c}") for c in COMPONENTS if c not in CREDITS],
            *[(pl.col(f"_b_{c}") - pl.col(c)).alias(f"delta_{c}") for c in COMPONENTS if c in CREDITS],
        ).with_columns(pl.lit(s.name).alias("scenario"))
        frames.append(f.select("scenario", dim, *money, "delta", *[f"delta_{c}" for c in COMPONENTS]))
    order = {n: i for i, n in enumerate(names)}
    out = pl.concat(frames)
    return (out.with_columns(pl.col("scenario").replace_strict(order, return_dtype=pl.Int32).alias("_o"))
            .sort("_o", dim).drop("_o").with_columns(pl.col(c).cast(MONEY) for c in out.columns
                                                      if c not in ("scenario", dim)))


# Persistence -----------------------------------------------------------------------------------------------------

def save_scenario(con: duckdb.DuckDBPyConnection, scenario: Scenario, author: str) -> Scenario:
    """Store as the next version of its name (earlier versions stay, so a past comparison can be re-derived)."""
    with transaction(con):
        nxt = int(con.sql("SELECT coalesce(max(version), 0) + 1 FROM scenario WHERE name = ?",
                          params=[scenario.name]).fetchall()[0][0])
        saved = scenario.model_copy(update={"version": nxt})
        params = saved.model_dump(mode="json", exclude={"name", "version"})
        con.execute("INSERT INTO scenario (name, version, params, author) VALUES (?, ?, ?, ?)",
                    [saved.name, nxt, json.dumps(params, sort_keys=True), author])
        audit.record(con, author, "scenario.save", "scenario", f"{saved.name}@{nxt}", params)
    return saved


def load_scenario(con: duckdb.DuckDBPyConnection, name: str, version: int | None = None) -> Scenario:
    """A stored version (the latest when none is given)."""
    sql = "SELECT version, params::VARCHAR FROM scenario WHERE name = ?"
    params: list[object] = [name]
    if version is not None:
        sql += " AND version = ?"
        params.append(version)
    rows = con.sql(sql + " ORDER BY version DESC LIMIT 1", params=params).fetchall()
    if not rows:
        raise NotFound(f"no scenario {name!r}" + (f" version {version}" if version is not None else ""))
    ver, body = rows[0]
    return Scenario.model_validate({**json.loads(body), "name": name, "version": ver})


def list_scenarios(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Latest version of each scenario with its model, author and when it was saved."""
    return frame(con.sql(
        "SELECT name, version, params->>'model' AS model, author, created_at FROM scenario"
        " QUALIFY row_number() OVER (PARTITION BY name ORDER BY version DESC) = 1 ORDER BY name"
    ))
