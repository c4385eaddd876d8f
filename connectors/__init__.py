"""Source formats → canonical Polars frames plus a validation report. No Streamlit, no allocation logic."""
