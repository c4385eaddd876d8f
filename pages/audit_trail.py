"""Audit trail: every recorded action, and a check that nobody changed or removed an event."""

from __future__ import annotations

import streamlit as st

from engine.store import audit
from ui.auth import require_role
from ui.db import db
from ui.navigation import roles_for

user = require_role(*roles_for("audit_trail"))

con = db()
st.title("Audit trail")
result = audit.verify(con)
if result.ok:
    st.success(f"Chain intact: {result.checked} events verified, none changed or removed.")
else:
    st.error(f"Audit chain broken — {result.problem}")

events = audit.recent(con, limit=500)
if events.is_empty():
    st.info("No events recorded yet. Rule submissions, approvals, ingests and posted runs appear here.")
else:
    st.dataframe(events, hide_index=True, width="stretch")
