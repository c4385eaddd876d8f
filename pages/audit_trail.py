"""Audit trail: every recorded action, the proof that none was changed, removed or slipped in, and the export."""

from __future__ import annotations

import functools

import polars as pl
import streamlit as st

from engine.errors import ApportionError
from engine.outputs import audit_export
from engine.store import audit
from engine.store import backup as backups
from ui.auth import require_role
from ui.db import db
from ui.downloads import download
from ui.formats import plain
from ui.navigation import roles_for

user = require_role(*roles_for("audit_trail"))

con = db()
st.title("Audit trail")
try:
    result = audit.verify(con)
except ApportionError as exc:
    st.error(plain(exc))
    st.stop()

if result.ok:
    st.success(plain(result.verdict()))
else:
    st.error(plain(result.verdict()))
    st.dataframe(pl.DataFrame({"event": [p.seq for p in result.problems], "kind": [p.kind for p in result.problems],
                               "what was found": [p.message for p in result.problems]},
                              schema={"event": pl.Int64, "kind": pl.String, "what was found": pl.String}),
                 hide_index=True, width="stretch")
st.caption(plain(backups.last_backup_text(con)))
for note in result.notes:
    st.caption(":material/info: Note")
    st.text(note)
with st.expander("The verdict as text (what `python -m engine audit verify` prints)"):
    st.code("\n".join(result.lines()), language=None)

facets = audit.facets(con)
if facets.first is None:
    st.info("No events recorded yet. Rule submissions, approvals, ingests and posted runs appear here.")
    st.stop()

c1, c2, c3, c4 = st.columns([1, 1, 1, 1.3])
actors = c1.multiselect("Actor", facets.actors, key="audit_actor")
actions = c2.multiselect("Action", facets.actions, key="audit_action")
entities = c3.multiselect("Entity", facets.entities, key="audit_entity")
period = c4.date_input("Period", value=(facets.first, facets.last), min_value=facets.first,
                       max_value=facets.last, key="audit_period")
days = list(period) if isinstance(period, tuple | list) else [period]
start = days[0] if days else None
end = days[1] if len(days) > 1 else start

shown = audit.events(con, actors=actors, actions=actions, entities=entities, start=start, end=end)
st.caption(f"{shown.height:,} events, newest first (at most 5,000 shown; the export holds every event).")
st.dataframe(shown, hide_index=True, width="stretch")

trail = functools.cache(lambda: audit_export.export_csv(con))   # built on the first click; both files agree
d1, d2 = st.columns(2)
download(d1, "Download the trail (CSV)", trail, "audit_trail.csv", "text/csv",
         key="audit_csv", help="Every event, oldest first; text cells are formula-safe.")
download(d2, "Download the verification summary",
         lambda: audit_export.summary_text(result, trail(), audit_export.store_label(con)),
         "audit_trail.summary.txt", "text/plain", key="audit_summary", icon=":material/verified:",
         help="The verdict, every break, and the head's anchor and the CSV's SHA-256 to keep elsewhere.")
