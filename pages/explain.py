"""Explain a charge: a target's posted amount, cell by cell, chain by chain, with the figures that re-derive it."""

from __future__ import annotations

import streamlit as st

from engine.allocation import explain
from engine.errors import ApportionError
from engine.insights import comparison
from ui.auth import require_role
from ui.db import db
from ui.empty import empty_state
from ui.formats import money, plain
from ui.navigation import roles_for

user = require_role(*roles_for("explain"))

KINDS = {"business_unit": "Business unit", "cost_center": "Cost centre", "application": "Application"}


def _num(v: object) -> str:
    return "" if v is None else format(v, "f")


con = db()
st.title("Explain a charge")
st.caption("Every posted amount re-derived from the run's inputs: pool total × share along each chain of steps, "
           "added per cell, then rounded to the cent by the period's controlled rounding.")
periods = comparison.posted_periods(con)
if not periods:
    empty_state("posted allocation run")
    st.stop()
c1, c2, c3 = st.columns(3)
period = c1.selectbox("Period", list(reversed(periods)), key="explain_period")
options = explain.targets(con, user, period)
kinds = [k for k in KINDS if any(o[0] == k for o in options)]
if not options:
    empty_state("target you may explain")
    st.stop()
kind = c2.radio("Target", kinds, format_func=lambda k: KINDS[k], key="explain_kind", horizontal=True)
names = {i: n for k, i, n in options if k == kind}
target = c3.selectbox(plain(KINDS[kind]), list(names), key="explain_target",
                      format_func=lambda i: plain(f"{i} · {names[i]}"))

try:
    e = explain.explain(con, user, period, target)
except ApportionError as exc:
    st.error(plain(str(exc)))
    st.stop()

st.caption(plain(f"{names[target]} ({target}) · {period} · run {e.run_key[:12]} · {e.rule_set} v{e.rule_version}"))
m1, m2, m3 = st.columns(3)
m1.metric("Posted total", money(e.posted_total))
m2.metric("Exact total", money(e.exact_total))
m3.metric("Cells", len(e.cells))
st.text(f"Posted total {e.posted_total} · exact {_num(e.exact_total)}")
st.subheader("Cells: origin pool → target")
st.table([{"Origin pool": c.source_pool, "Target": f"{c.target_kind} {c.target_id}", "Exact": _num(c.exact),
           "Nearest cent": _num(c.nearest), "Posted": _num(c.posted), "Rounding adjustment": _num(c.adjustment)}
          for c in e.cells])
st.caption("Rounding adjustment = posted − exact rounded half-even to the cent. The period's min-cost-flow rounding "
           "decides it: every cell is its exact amount's floor or ceiling, and pool and target totals stay within a "
           "cent. Reciprocal steps show their solved totals (simultaneous solve), not per-hop quantities.")

st.subheader("Chains")
for n, c in enumerate(e.cells, start=1):
    with st.expander(plain(f"Cell {n}: {c.source_pool} → {c.target_kind} {c.target_id} · posted {c.posted}")):
        rows = []
        for ci, ch in enumerate(c.chains, start=1):
            for h in ch.hops:
                rows.append({
                    "Chain": ci, "Step": f"{h.step} {h.step_id}", "Step name": h.step_name, "Method": h.method,
                    "Driver": h.driver or "",
                    "Amount in": _num(h.amount_in), "Receiver": f"{h.receiver_kind} {h.receiver_id}",
                    "Quantity": _num(h.quantity), "Total quantity": _num(h.total_quantity),
                    "Share": "solved" if h.share is None else _num(h.share), "Amount": _num(h.amount),
                    "Weights": "; ".join(f"{k.driver} {_num(k.weight)} × {_num(k.quantity)} / "
                                         f"{_num(k.total_quantity)}" for k in h.components),
                    "Note": h.note,
                })
        st.table(rows)
        st.text(f"Re-derive cell {n}: {explain.rederive_line(c)}")
