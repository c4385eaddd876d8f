"""Consistent number and money formats across pages."""

from __future__ import annotations

from decimal import Decimal

from engine.settings import get_settings

_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


def money(value: Decimal | float | int | None, *, compact: bool = False) -> str:
    if value is None:
        return "–"
    cur = get_settings().currency
    sym = _SYMBOLS.get(cur, cur + " ")
    v = float(value)
    sign = "-" if v < 0 else ""
    v = abs(v)
    if compact:
        for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
            if v >= div:
                return f"{sign}{sym}{v / div:,.2f}{suffix}"
    return f"{sign}{sym}{v:,.2f}"


def pct(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}%"


def axis_currency_format() -> str:
    """d3 format string for Altair axes and tooltips."""
    return "$,.0f" if get_settings().currency == "USD" else ",.0f"
