"""Streamlit-only helpers shared by pages: database handle, login, guards, navigation, charts, formats."""
