"""The empty state every page shows when there is nothing to show yet."""

from __future__ import annotations

import streamlit as st


def empty_state(what: str = "billing data") -> None:
    st.info(
        f"No {what} yet. Load the demo organisation with `make demo-data` (or `python -m data.generate`), "
        "or upload your own exports on the **Ingest** page."
    )
