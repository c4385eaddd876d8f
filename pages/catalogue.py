"""Service catalogue: items with support tiers, SLAs and unit rates; app owners see what each tier would cost their
applications. Finops and admins edit the catalogue and publish it into a rate card."""

from __future__ import annotations

from decimal import Decimal

import polars as pl
import streamlit as st

from engine.access import policy
from engine.costmodels import catalogue
from engine.errors import ApportionError
from engine.insights import overview
from ui.auth import require_role
from ui.db import db
from ui.formats import money, plain
from ui.navigation import roles_for

user = require_role(*roles_for("catalogue"))

con = db()
st.title("Service catalogue")
can_edit = policy.can(user, "edit_cost_models")
try:
    current: catalogue.Catalogue | None = catalogue.load_catalogue(con)
except ApportionError:
    current = None

if current is None:
    st.info("No service catalogue has been published yet." + (" Start from the standard one below." if can_edit
                                                                 else ""))
else:
    st.caption(plain(f"Catalogue version {current.version}."))
    st.dataframe(catalogue.entries_frame(current), hide_index=True, width="stretch",
                 column_config={"unit_price": st.column_config.NumberColumn("unit price", format="%.4f")})

    st.subheader("What a support tier costs your applications" if user.scoped else "Cost of each tier per application")
    costs = catalogue.tier_costs(con, user, current)
    if costs.is_empty():
        st.info("No applications to show (or no item is priced per application).")
    else:
        current_rows = costs.filter(pl.col("is_current"))
        if not current_rows.is_empty():
            st.metric("Your applications' support per month" if user.scoped else "Support per month, all tiers as is",
                      money(current_rows["monthly_cost"].sum()))
        apps = costs.select("app_id", "application").unique(maintain_order=True)
        labels = {a: f"{a} · {n}" for a, n in apps.iter_rows()}
        app = st.selectbox("Application", list(labels), format_func=labels.__getitem__, key="cat_app")
        mine = costs.filter(pl.col("app_id") == app)
        cols = st.columns(max(mine.height, 1))
        for col, row in zip(cols, mine.iter_rows(named=True), strict=False):
            delta = row["change_vs_current"]
            col.metric(plain(f"{row['tier']} ({row['sla']})" + (" · current" if row["is_current"] else "")),
                       money(row["monthly_cost"]),
                       delta=None if delta is None or row["is_current"] else money(delta), delta_color="inverse")
        st.dataframe(costs.drop("is_current"), hide_index=True, width="stretch",
                     column_config={c: st.column_config.NumberColumn(format="dollar")
                                    for c in ("monthly_cost", "change_vs_current")})

if can_edit:
    st.subheader("Edit the catalogue (saving makes a new version)")
    base = catalogue.entries_frame(current if current is not None
                                   else catalogue.Catalogue(entries=list(catalogue.STARTER)))
    edited = st.data_editor(base.with_columns(pl.col("unit_price").cast(pl.Float64)), num_rows="dynamic",
                            hide_index=True, width="stretch", key="cat_edit")
    periods = overview.periods(con)
    c1, c2 = st.columns(2)
    card_name = c1.text_input("Rate card to publish into", value="IT services", key="cat_card")
    eff = c2.text_input("In force from (YYYY-MM)", value=periods[-1] if periods else "", key="cat_from")
    if st.button("Save and publish to the rate card", type="primary", icon=":material/publish:", key="cat_save"):
        rows = [{k: v for k, v in r.items() if v is not None}
                | ({"unit_price": Decimal(str(r["unit_price"]))} if r["unit_price"] is not None else {})
                for r in pl.DataFrame(edited).iter_rows(named=True)]
        try:
            saved = catalogue.save_catalogue(con, user, catalogue.catalogue_from(rows))
            card = catalogue.publish(con, user, saved, card_name.strip(), eff.strip())
        except ApportionError as exc:
            st.error(plain(exc))
        else:
            st.success(plain(f"Saved catalogue v{saved.version} and {card.name} v{card.version}."))
