"""Reconciliation: inventories against records, cloud discovery against the bill, licences, asset data quality and
tag hygiene, each with the list behind every number."""

from __future__ import annotations

import altair as alt
import polars as pl
import streamlit as st

from engine.access import policy
from engine.errors import ApportionError
from engine.reconcile import asset_review
from engine.tags import hygiene as tag_hygiene
from engine.tags import standard as tag_standard
from ui.auth import require_role
from ui.db import db
from ui.downloads import download_row
from ui.empty import empty_state
from ui.formats import money, pct, plain
from ui.navigation import roles_for

user = require_role(*roles_for("reconciliation"))

con = db()
st.title("Reconciliation")
st.caption("What is out there against what the books say: assets, cloud resources, licences, data quality and "
           "tags. Every count opens the list behind it, ready to download.")
as_of = st.date_input("As of", value=asset_review.as_of_default(con), key="recon_as_of",
                      help="Licence activity and depreciation are judged on this day (default: end of the last "
                           "billing period).")

MONEY = st.column_config.NumberColumn(format="dollar")


def show_list(frame: pl.DataFrame, basename: str, key: str) -> None:
    if frame.is_empty():
        st.success("Nothing in this list.")
        return
    st.dataframe(frame, hide_index=True, width="stretch")
    download_row(frame, basename, key)


def assets_tab() -> None:
    present = asset_review.sources(con)
    if not present:
        empty_state("asset inventory")
        return
    disc_default, rec_default = asset_review.default_sides(present)
    c1, c2 = st.columns(2)
    disc = c1.multiselect("Discovery sources", present, default=disc_default, key="recon_disc",
                          help="What agents and cloud APIs actually see (SCCM, Jamf, AWS Config).")
    recs = c2.multiselect("Record sources", present, default=rec_default, key="recon_recs",
                          help="What finance and the CMDB believe (ServiceNow, Snipe-IT, procurement lists).")
    rev = asset_review.review(con, tuple(disc), tuple(recs))
    if not rev.matching:
        st.info(plain("Matching needs a discovery source and a record source with assets. Loaded sources: "
                      f"{', '.join(present)}. The register checks below still run on every asset."))
    labels = asset_review.ASSET_LISTS
    st.markdown("**Discovery against records**")
    row = st.columns(len(asset_review.MATCHING_LISTS))
    for col, key in zip(row, asset_review.MATCHING_LISTS, strict=True):
        n = rev.count(key)
        col.metric(plain(labels[key].split(" (")[0]), "–" if n is None else f"{n:,}")
    if rev.discovered_twice:
        st.caption(f"{rev.discovered_twice:,} devices were seen by two discovery agents and counted once.")
    st.markdown("**Register checks** (every source)")
    r1, r2, _ = st.columns(3)
    r1.metric(plain(labels["duplicates"]), f"{rev.count('duplicates'):,}", help="Assets of one source sharing a serial "
              "under different asset tags or models: one device recorded twice.")
    r2.metric(plain(labels["retired_assigned"]), f"{rev.count('retired_assigned'):,}",
              help="Retired or disposed assets that still name an owner.")
    keys = [k for k in labels if rev.count(k) is not None]
    first = next((i for i, k in enumerate(keys) if rev.count(k)), 0)
    choice = st.selectbox("Show the list of", keys, index=first, format_func=lambda k: f"{labels[k]} "
                          f"({rev.count(k):,})", key="recon_asset_list")
    show_list(rev.lists[choice], f"assets_{choice}", "recon_assets_dl")


def cloud_tab() -> None:
    periods = asset_review.aws_periods(con)
    if not periods:
        empty_state("AWS billing data")
        return
    period = st.selectbox("Billing period", list(reversed(periods)), key="recon_cloud_period")
    if not asset_review.cloud_inventory_size(con):
        empty_state("AWS Config inventory")
        st.caption("Cloud coverage compares the resources AWS Config reports (snapshot JSON or advanced-query CSV) "
                   "with the resource ids on the bill; load an AWS Config export to see it.")
        return
    cov = asset_review.cloud_coverage(con, period)
    m = st.columns(5)
    m[0].metric("Config resources (active)", f"{cov.inventory:,}")
    m[1].metric("Billed resources", f"{cov.billed:,}")
    m[2].metric("Unbilled (in Config, no bill line)", f"{cov.unbilled.height:,}")
    m[3].metric("Undiscovered (billed, not in Config)", f"{cov.undiscovered.height:,}")
    m[4].metric("Cost known to the inventory", pct(cov.covered_pct),
                help=f"Undiscovered resources cost {money(cov.undiscovered_cost)} of {money(cov.billed_cost)} "
                     "resource-level AWS spend this month.")
    which = st.selectbox("Show the list of", ["undiscovered", "unbilled"], key="recon_cloud_list",
                         format_func=lambda k: {"undiscovered": "Undiscovered (billed, not in Config)",
                                                "unbilled": "Unbilled (in Config, no bill line)"}[k])
    frame = cov.undiscovered if which == "undiscovered" else cov.unbilled
    show_list(frame, f"cloud_{which}_{period}", "recon_cloud_dl")


def licences_tab() -> None:
    days = st.number_input("Active means signed in within (days)", 1, 730, 90, key="recon_active_days")
    pos = asset_review.licence_position(con, as_of, int(days))
    if pos.is_empty():
        empty_state("licence entitlements")
        return
    short = pos.filter(pl.col("shortfall") > 0)
    m1, m2, m3 = st.columns(3)
    m1.metric("Products", f"{pos.height:,}")
    m2.metric("Seats assigned beyond entitlement", f"{int(short['shortfall'].sum()):,}",
              help=plain(", ".join(f"{p}: {s}" for p, s in short.select("product", "shortfall").iter_rows())) or None)
    m3.metric("Idle licence cost / month", money(float(pos["idle_cost_month"].sum())),
              help="(entitled − active) × unit cost: seats paid for that nobody used recently.")
    for p, e, a, s in short.select("product", "entitled", "assigned", "shortfall").iter_rows():
        st.warning(f"**{plain(p)}**: {a:,} seats assigned for {e:,} entitled — {s:,} short.")
    chart = (alt.Chart(asset_review.licence_chart_frame(pos)).mark_bar()
             .encode(y=alt.Y("product:N", title=None), yOffset=alt.YOffset("measure:N", sort=["entitled",
                                                                                                "assigned", "active"]),
                     x=alt.X("seats:Q", title="Seats"),
                     color=alt.Color("measure:N", title=None, sort=["entitled", "assigned", "active"]),
                     tooltip=["product:N", "measure:N", alt.Tooltip("seats:Q", format=",")])
             .properties(height=max(220, 42 * pos.height)))
    st.altair_chart(chart, width="stretch")
    st.dataframe(pos, hide_index=True, width="stretch",
                 column_config={"unit_cost_month": MONEY, "idle_cost_month": MONEY})
    download_row(pos, f"licence_position_{as_of.isoformat()}", "recon_lic_dl")


def dq_tab() -> None:
    if not asset_review.sources(con):
        empty_state("asset inventory")
        return
    config = asset_review.dq_config()
    with st.expander("Rules (edit for this session)"):
        text = st.text_area("Data-quality rules (JSON)", config.model_dump_json(indent=2), height=300,
                            key="recon_dq_rules")
        try:
            config = asset_review.parse_dq_config(text)
        except ApportionError as exc:
            st.error(plain(f"{exc} — the defaults are used instead."))
    violations = asset_review.dq_violations(con, config, as_of)
    if violations.is_empty():
        st.success("Every asset meets the data-quality rules.")
        return
    summary = asset_review.dq_summary(violations)
    m1, m2, m3 = st.columns(3)
    m1.metric("Assets with a violation", f"{violations['asset_id'].n_unique():,}")
    m2.metric("Errors", f"{violations.filter(pl.col('severity') == 'error').height:,}")
    m3.metric("Warnings", f"{violations.filter(pl.col('severity') == 'warning').height:,}")
    st.dataframe(summary, hide_index=True, width="stretch")
    rules = summary["rule"].unique(maintain_order=True).to_list()
    counts = dict(violations.group_by("rule").len().iter_rows())
    rule = st.selectbox("Show the violations of", rules, key="recon_dq_rule",
                        format_func=lambda r: f"{r} ({counts.get(r, 0):,})")
    show_list(asset_review.dq_rule(violations, rule), "dq_" + rule.replace(" ", "_").replace("/", "_"),
              "recon_dq_dl")


def standard_editor() -> None:
    """The tag standard in force; FinOps and admins save a new version (the engine checks the role again)."""
    saved = tag_standard.current(con)
    history = tag_standard.history(con)
    version = int(history["version"][0]) if not history.is_empty() else 0
    label = f"Tag standard — version {version}" if version else "Tag standard — built-in default"
    with st.expander(plain(label)):
        if not policy.can(user, "edit_tag_standard"):
            st.markdown(f"**Required:** {plain(', '.join(saved.required))}")
            st.text(tag_standard.allowed_text(saved) or "No restricted values.")
        else:
            with st.form("tag_standard_form"):
                required = st.text_input("Required tags", value=", ".join(saved.required), key="tagstd_required",
                                         help="Comma-separated; spelled as you like (Cost Center → cost_center).")
                allowed = st.text_area("Allowed values", value=tag_standard.allowed_text(saved),
                                       key="tagstd_allowed",
                                       help="One key per line: `environment: prod, staging, dev`. A key not "
                                            "listed takes any value; cost_center defaults to the known centres.")
                note = st.text_input("Why", key="tagstd_note", help="Kept with the version and in the audit trail.")
                if st.form_submit_button("Save as a new version"):
                    try:
                        new = tag_standard.save(con, tag_standard.parse(required.split(","), allowed), user, note)
                    except ApportionError as exc:
                        st.error(plain(f"Not saved: {exc}"))
                    else:
                        st.toast(plain(f"Tag standard version {new} in force"))
                        st.rerun()
        if not history.is_empty():
            st.dataframe(history, hide_index=True, width="stretch")


def tags_tab() -> None:
    periods = tag_hygiene.periods(con)
    if not periods:
        empty_state()
        return
    std = tag_hygiene.standard_for(con)
    st.caption(plain(tag_hygiene.describe(std)))
    standard_editor()
    period = st.selectbox("Billing period", list(reversed(periods)), key="recon_tag_period")
    grid = tag_hygiene.by_period_provider(con, std)
    month = tag_hygiene.by_period(grid).filter(pl.col("period") == period).row(0, named=True)
    m = st.columns(4)
    m[0].metric("Tag coverage", pct(month["compliant_pct"]), help="Effective cost whose lines carry every required "
                "tag with an allowed value.")
    m[1].metric("Untagged", pct(month["untagged_pct"]), help=f"{money(month['untagged'])}: no cost-centre tag.")
    m[2].metric("Mis-tagged", pct(month["mis_tagged_pct"]),
                help=f"{money(month['mis_tagged'])}: a cost-centre tag that is not a cost centre.")
    m[3].metric("Incomplete", pct(month["incomplete_pct"]),
                help=f"{money(month['incomplete'])}: cost centre fine, another required tag missing or invalid.")
    trend = tag_hygiene.coverage_trend(grid)
    st.altair_chart(alt.Chart(trend).mark_line(point=True).encode(
        x=alt.X("period:O", title="Billing period"),
        y=alt.Y("coverage_pct:Q", title="Tag coverage (% of effective cost)", scale=alt.Scale(zero=False)),
        color=alt.Color("provider:N", title="Provider"),
        tooltip=["period:O", "provider:N", alt.Tooltip("coverage_pct:Q", title="Coverage %", format=".1f")],
    ).properties(height=260), width="stretch")
    st.markdown("**Per month and provider**")
    st.dataframe(grid.sort("period", "provider", descending=[True, False]), hide_index=True, width="stretch",
                 column_config={c: MONEY for c in ("total", "untagged", "mis_tagged", "incomplete", "compliant")}
                 | {c: st.column_config.NumberColumn(format="%.1f%%") for c in grid.columns if c.endswith("_pct")})
    download_row(grid, "tag_coverage", "recon_tag_grid_dl")
    st.markdown(f"**Top untagged and mis-tagged spend, {plain(period)}**")
    by = st.radio("By", list(tag_hygiene.GROUP_COLUMNS), index=2, horizontal=True, key="recon_tag_by",
                  format_func=lambda b: {"account": "Account", "service": "Service",
                                         "account_service": "Account and service"}[b])
    top = tag_hygiene.offenders(con, std, period, by)  # type: ignore[arg-type]
    if top.is_empty():
        st.success("No untagged or mis-tagged spend this month.")
        return
    st.dataframe(top, hide_index=True, width="stretch", column_config={"effective_cost": MONEY})
    download_row(tag_hygiene.offenders(con, std, period, by, limit=None),  # type: ignore[arg-type]
                 f"untagged_{by}_{period}", "recon_tag_top_dl")


tabs = st.tabs(["Assets", "Cloud coverage", "Licences", "Data quality", "Tag hygiene"])
with tabs[0]:
    assets_tab()
with tabs[1]:
    cloud_tab()
with tabs[2]:
    licences_tab()
with tabs[3]:
    dq_tab()
with tabs[4]:
    tags_tab()
