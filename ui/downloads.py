"""Download buttons for whatever table is on screen: CSV, XLSX and Parquet, neutralised against formulas."""

from __future__ import annotations

import polars as pl
import streamlit as st

from engine.outputs import exports


def download_row(df: pl.DataFrame, basename: str, key: str) -> None:
    c1, c2, c3 = st.columns(3)
    c1.download_button("Download CSV", exports.to_csv_bytes(df), f"{basename}.csv", "text/csv", key=f"{key}_csv",
                       icon=":material/download:")
    c2.download_button("Download Excel", exports.to_xlsx_bytes({"data": df}), f"{basename}.xlsx",
                       "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", key=f"{key}_xlsx",
                       icon=":material/download:")
    c3.download_button("Download Parquet", exports.to_parquet_bytes(df), f"{basename}.parquet",
                       "application/octet-stream", key=f"{key}_parquet", icon=":material/download:")
