"""Apportion's domain: pure Python over DuckDB, no Streamlit. Runs headless (CLI, jobs) and under the app."""
