"""Allocation workshop: move driver weights and cost-model sliders, watch each business unit's charge move."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import polars as pl
import streamlit as st

from engine.errors import ApportionError
from engine.insights import workshop
from engine.insights.workshop import WorkshopParams
from engine.rules.model import UNALLOCATED
from ui import cache, charts
from ui.auth import require_role
from ui.db import data_version, db
from ui.formats import axis_currency_format, money, plain
from ui.navigation import roles_for
from ui.pickers import periods_and_rule_sets

user = require_role(*roles_for("workshop"))

con = db()
st.title("Allocation workshop")
periods, rule_sets = periods_and_rule_sets(con)

c1, c2, c3 = st.columns(3)
period = c1.selectbox("Period", periods, key="period", bind="query-params")
rule_set = c2.selectbox("Rule set", rule_sets, key="ruleset", bind="query-params")
by = c3.segmented_control("Charges by", ["business_unit", "cost_center"], key="by", default="business_unit",
                          format_func=lambda v: v.replace("_", " ").capitalize(), bind="query-params")
by = by or "business_unit"
version = data_version()
prep = cache.prepared(cache.db_path(), period, rule_set, version)
baseline = cache.baseline_charges(cache.db_path(), period, rule_set, version, by)
names = workshop.unit_names(con)
st.caption(plain(f"{rule_set} v{prep.rule_version} · baseline = the approved rule set (its drivers, weights and "
                 "splits), full-recovery chargeback"))


KIND_LABEL = {"application": "per application", "cost_center": "per cost centre", "business_unit": "per business unit"}
UNUSED = ["as allocated", "keep_central", "spread_pro_rata", "on_demand_equivalent"]
choices = prep.driver_choices()
step_names = {s.id: s.name for s in prep.rule_set.steps}
Values = dict[str, Any]


def _driver_options(kind: str) -> list[str]:
    """`driver:kind` values: the step's own target kind first, then drivers counted for other kinds."""
    own = [f"{d}:{kind}" for d in choices.get(kind, [])]
    return own + [f"{d}:{k}" for k, ds in choices.items() if k != kind for d in ds]


def _driver_label(value: str) -> str:
    driver, kind = value.split(":", 1)
    return f"{driver.replace('_', ' ').capitalize()} ({KIND_LABEL.get(kind, kind)})"


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def control_keys(subsidised: list[str]) -> list[str]:
    """Every widget key of the controls, in the order they are drawn."""
    return ([f"w_{sid}_{d}" for sid, ws in prep.weighted_steps.items() for d in ws]
            + [f"d_{sid}" for sid in prep.driver_steps]
            + [f"s_{sid}_{t}" for sid, split in prep.fixed_steps.items() for t in list(split)[:-1]]
            + ["sub_pools", *[f"sub_{p}" for p in subsidised], "chargeback", "markup", "idle", "unused"])


def controls() -> Values:
    """Every step's live controls (weights, driver switches, fixed splits keeping 100 %, subsidised shares) and the
    cost model; returns widget key → value."""
    v: Values = {}
    st.subheader("Drivers")
    for sid, current in prep.weighted_steps.items():   # first: the bench and journeys press the first slider
        st.caption(plain(step_names[sid]))
        for d, w in current.items():
            v[f"w_{sid}_{d}"] = st.slider(plain(f"{_label(d)} weight"), 0, 100, int(round(w * 100)), step=5,
                                          key=f"w_{sid}_{d}", bind="query-params")
    for sid, (d, kind) in prep.driver_steps.items():
        options = _driver_options(kind)
        if f"{d}:{kind}" not in options:   # the approved driver has no quantities this period: keep it, say so later
            options.insert(0, f"{d}:{kind}")
        v[f"d_{sid}"] = st.selectbox(plain(step_names[sid]), options, index=options.index(f"{d}:{kind}"),
                                     key=f"d_{sid}", bind="query-params", format_func=_driver_label,
                                     help="Drivers loaded for the period. One counted for another target kind "
                                          "moves the step to that kind (headcount is per cost centre).")
    for sid, split in prep.fixed_steps.items():
        st.caption(plain(f"{step_names[sid]} · fixed split"))
        targets = list(split)
        for t in targets[:-1]:
            v[f"s_{sid}_{t}"] = st.slider(plain(f"{t} %"), 0, 100, int(split[t]), key=f"s_{sid}_{t}",
                                          bind="query-params")
        rest = 100 - sum(v[f"s_{sid}_{t}"] for t in targets[:-1])
        st.caption(plain(f"{targets[-1]}: {rest} % (the rest, so the split keeps 100 %)" if rest >= 0 else
                         f"{targets[-1]}: the others already take more than 100 %"))
    st.subheader("Cost model")
    v["chargeback"] = st.toggle("Chargeback (off = showback)", value=True, key="chargeback", bind="query-params")
    off = not v["chargeback"]
    v["sub_pools"] = st.multiselect("Subsidised pools", list(step_names), default=[], key="sub_pools",
                                    format_func=lambda sid: step_names.get(sid, sid), bind="query-params",
                                    disabled=off, help="Each pool chosen gets its own share, carried centrally.")
    for pool in v["sub_pools"]:
        v[f"sub_{pool}"] = st.slider(plain(f"{step_names.get(pool, pool)}: subsidised %"), 0, 100, 50, step=5,
                                     key=f"sub_{pool}", bind="query-params", disabled=off)
    v["markup"] = st.slider("Overhead markup %", 0, 25, 0, key="markup", bind="query-params", disabled=off)
    v["idle"] = st.slider("Idle penalty %", 0, 100, 0, key="idle", bind="query-params", disabled=off,
                          help="Charged on each unit's share of unused reserved capacity (unused commitments).")
    v["unused"] = st.radio("Unused commitment", UNUSED, key="unused", bind="query-params", disabled=off,
                           format_func=_label)
    return v


def peek() -> Values | None:
    """On a rerun every control already holds its value in the session: read them before drawing anything, so the
    numbers that changed are sent to the browser first. None on a first run (the widgets must be created)."""
    state = st.session_state
    if "sub_pools" not in state:
        return None
    keys = control_keys(list(state["sub_pools"] or []))
    return {k: state[k] for k in keys} if all(k in state for k in keys) else None


def params_of(v: Values) -> tuple[WorkshopParams | None, list[str]]:
    problems: list[str] = []
    weights = {sid: {d: v[f"w_{sid}_{d}"] / 100 for d in ws} for sid, ws in prep.weighted_steps.items()}
    problems += [f"{step_names[sid]}: at least one weight must be above zero." for sid, ws in weights.items()
                 if sum(ws.values()) == 0]
    drivers = {sid: tuple(str(v[f"d_{sid}"]).split(":", 1)) for sid in prep.driver_steps if v[f"d_{sid}"]}
    splits: dict[str, dict[str, Decimal]] = {}
    for sid, split in prep.fixed_steps.items():
        targets = list(split)
        moved = {t: Decimal(v[f"s_{sid}_{t}"]) for t in targets[:-1]}
        rest = Decimal(100) - sum(moved.values(), Decimal(0))
        if rest < 0:
            problems.append(f"{step_names[sid]}: the split is over 100 % by {-rest} %.")
        splits[sid] = {**moved, targets[-1]: rest}
    if problems:
        return None, problems
    return WorkshopParams(weights=weights, drivers=drivers, splits=splits,  # type: ignore[arg-type]
                          chargeback=v["chargeback"], pool_subsidies={p: v[f"sub_{p}"] for p in v["sub_pools"]},
                          markup_pct=v["markup"], idle_penalty_pct=v["idle"],
                          unused_policy=None if v["unused"] == "as allocated" else v["unused"]), []


def results(v: Values) -> None:
    params, problems = params_of(v)
    if params is None:
        st.warning(plain(" ".join(problems)))
        return
    uplift = (cache.on_demand_uplift(cache.db_path(), period, version)
              if params.unused_policy == "on_demand_equivalent" else None)
    try:
        result = workshop.against(workshop.charges(prep, params, by, uplift), baseline)  # type: ignore[arg-type]
    except ApportionError as exc:
        st.error(plain(exc))
        return
    result = result.with_columns(pl.col("unit").replace_strict(names, default=pl.col("unit")).alias("name"))
    charged = result.filter(pl.col("unit") != UNALLOCATED)   # "Charged" never includes the unallocated line
    total, base_total = Decimal(charged["charge"].sum()), Decimal(charged["baseline"].sum())
    m1, m2, m3 = st.columns(3)
    unallocated = Decimal(result.filter(pl.col("unit") == UNALLOCATED)["charge"].sum())
    m1.metric("Total charged", money(total), delta=money(total - base_total) + " vs baseline",
              delta_color="off", help=f"Excludes the unallocated line ({money(unallocated)}), carried centrally.")
    m2.metric("Subsidy carried centrally", money(result["subsidy"].sum()))
    m3.metric("Markup + penalties", money(Decimal(result["markup"].sum()) + Decimal(result["penalty"].sum())))
    shown = result.sort(pl.col("delta").abs(), descending=True).head(8).sort("name")
    for row_start in range(0, shown.height, 4):
        cols = st.columns(4)
        for col, r in zip(cols, shown.slice(row_start, 4).iter_rows(named=True), strict=False):
            col.metric(plain(r["name"]), money(r["charge"], compact=True), delta=money(r["delta"]),
                       delta_color="inverse", help=f"{money(r['charge'])} (baseline {money(r['baseline'])})")
    st.subheader("Who wins, who loses")
    fmt = axis_currency_format()
    chart_df = result.select("name", pl.col("delta").cast(pl.Float64), pl.col("charge").cast(pl.Float64),
                             pl.col("baseline").cast(pl.Float64))
    st.vega_lite_chart(chart_df, charts.winners_losers_spec(fmt, chart_df.height), width="stretch")
    # off by default: a table the screen does not show is not sent on every move (docs/workshop.md)
    if st.toggle("Every unit: charge and its parts", key="workshop_table_on"):
        st.dataframe(
            result.select("name", "charge", "baseline", "delta", "direct", "shared", "subsidy", "markup", "penalty"),
            hide_index=True, width="stretch", key="workshop_table",
            column_config={c: st.column_config.NumberColumn(c.capitalize(), format="dollar")
                           for c in ("charge", "baseline", "delta", "direct", "shared", "subsidy", "markup",
                                     "penalty")},
        )
    with st.form("save_draft", clear_on_submit=True):
        reason = st.text_input("Why this change (recorded in the audit trail)")
        scenario_name = st.text_input("Scenario name", value=f"Workshop {period}")
        if st.form_submit_button("Save as draft rule version", type="primary"):
            try:
                name, ver, sc = workshop.save_draft(con, prep, params, user.username, reason, scenario_name, period)
            except ApportionError as exc:
                st.error(plain(exc))
            else:
                st.toast(plain(f"Saved {name} v{ver} and scenario '{sc.name}' v{sc.version}."),
                         icon=":material/check:")
                st.success(plain(f"{name} v{ver} is pending approval (Rule versions page)."))


@st.fragment
def panel() -> None:
    left, right = st.columns([1, 3], gap="large")
    before = peek()
    if before is not None:          # a move: the changed numbers first, then the (unchanged) controls
        with right:
            results(before)
        with left:
            after = controls()
        if after != before and not st.session_state.get("_workshop_redrawn"):   # a value the session did not
            st.session_state["_workshop_redrawn"] = True                        # hold yet: draw once more
            st.rerun(scope="fragment")
        st.session_state["_workshop_redrawn"] = False
    else:
        with left:
            values = controls()
        with right:
            results(values)


panel()
