"""Altair charts over already-aggregated frames, with one colour per business unit everywhere."""

from __future__ import annotations

import altair as alt
import polars as pl
import streamlit as st

from engine.insights.attribution import UNATTRIBUTED
from ui.formats import axis_currency_format

PALETTE = ["#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#B279A2", "#FF9DA6", "#9D755D", "#EECA3B",
           "#17BECF", "#8C564B", "#BCBD22"]
FIXED = {UNATTRIBUTED: "#BAB0AC", "Unallocated (carried centrally)": "#79706E"}  # never a business unit's colour


@st.cache_data(show_spinner=False, ttl=600)
def _business_units(db_path: str, version: str) -> list[str]:
    from engine.insights.overview import business_units
    from ui.db import db

    return business_units(db())


def business_unit_colours() -> dict[str, str]:
    """The one business unit → colour mapping every chart uses: business units in id order take the palette in
    order (so a unit's colour depends on the org tree only, never on what else a chart shows); Unattributed and
    the unallocated line are greys no unit gets."""
    from ui.cache import db_path
    from ui.db import data_version

    names = _business_units(db_path(), data_version())
    return {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)} | FIXED


def colour_scale(domain: list[str], colours: dict[str, str] | None = None) -> alt.Scale:
    """Stable colours: each value keeps the colour `colours` gives it (the business-unit mapping by default);
    values it does not know take the palette in sorted order after the known ones."""
    known = business_unit_colours() if colours is None else colours
    dom = sorted(set(domain))
    spare = iter(PALETTE[len(known) % len(PALETTE):] + PALETTE)
    return alt.Scale(domain=dom, range=[known[d] if d in known else next(spare) for d in dom])


def stacked_spend(df: pl.DataFrame, group_title: str = "Business unit") -> alt.Chart:
    """Stacked cost per period; business units (and Unattributed) always in their own colour."""
    fmt = axis_currency_format()
    domain = df["grp"].unique().to_list()
    colours = business_unit_colours() if group_title == "Business unit" else {}
    return (
        alt.Chart(df)
        .mark_bar()
        .encode(
            x=alt.X("period:O", title="Billing period"),
            y=alt.Y("sum(cost):Q", title="Effective cost", axis=alt.Axis(format=fmt)),
            color=alt.Color("grp:N", title=group_title, scale=colour_scale(domain, colours)),
            tooltip=[alt.Tooltip("period:O", title="Period"), alt.Tooltip("grp:N", title=group_title),
                     alt.Tooltip("cost:Q", title="Cost", format=fmt)],
        )
        .properties(height=320)
    )


def share_line(df: pl.DataFrame, column: str, title: str) -> alt.Chart:
    return (
        alt.Chart(df)
        .mark_line(point=True)
        .encode(
            x=alt.X("period:O", title="Billing period"),
            y=alt.Y(f"{column}:Q", title=title, scale=alt.Scale(zero=True)),
            tooltip=[alt.Tooltip("period:O"), alt.Tooltip(f"{column}:Q", title=title, format=".1f")],
        )
        .properties(height=220)
    )


def movers(df: pl.DataFrame, group_title: str) -> alt.Chart:
    fmt = axis_currency_format()
    return (
        alt.Chart(df)
        .mark_bar()
        .encode(
            y=alt.Y("grp:N", title=group_title, sort="-x"),
            x=alt.X("delta:Q", title="Change vs previous month", axis=alt.Axis(format=fmt)),
            color=alt.condition("datum.delta > 0", alt.value("#E45756"), alt.value("#54A24B")),
            tooltip=[alt.Tooltip("grp:N", title=group_title), alt.Tooltip("cost:Q", title="This month", format=fmt),
                     alt.Tooltip("previous:Q", title="Previous", format=fmt),
                     alt.Tooltip("delta:Q", title="Change", format=fmt)],
        )
        .properties(height=200)
    )


def winners_losers_spec(fmt: str, rows: int) -> dict[str, object]:
    """A plain Vega-Lite dict for the workshop's hot path: building and validating an Altair chart costs ~80 ms
    per slider move, a dict costs nothing."""
    return {
        "mark": {"type": "bar"},
        "height": max(160, 26 * rows),
        "encoding": {
            "y": {"field": "name", "type": "nominal", "sort": "-x", "title": None},
            "x": {"field": "delta", "type": "quantitative", "title": "Change vs baseline", "axis": {"format": fmt}},
            "color": {"condition": {"test": "datum.delta > 0", "value": "#E45756"}, "value": "#54A24B"},
            "tooltip": [{"field": "name", "type": "nominal", "title": "Unit"},
                        {"field": "charge", "type": "quantitative", "format": fmt},
                        {"field": "baseline", "type": "quantitative", "format": fmt},
                        {"field": "delta", "type": "quantitative", "format": fmt}],
        },
    }


def render(chart: alt.Chart | alt.LayerChart, data: pl.DataFrame) -> None:
    """Show an Altair chart without re-validating its schema on every rerun (~80–400 ms a chart): the spec is
    built once by Altair, its inline data dropped, and the frame passed to Streamlit as Arrow."""
    spec = chart.to_dict(validate=False)
    spec.pop("data", None)
    spec.pop("datasets", None)
    st.vega_lite_chart(data, spec, width="stretch")
