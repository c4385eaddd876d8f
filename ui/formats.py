"""Consistent number and money formats across pages, and text from files and people shown as text."""

from __future__ import annotations

import re
from decimal import Decimal

import streamlit as st

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


def metric_delta(change: Decimal | float | None, text: str, *, delta_color: str = "inverse") -> dict[str, object]:
    """Keyword arguments for `st.metric`'s delta: none without a comparison, a grey "unchanged" without an arrow
    when the change is zero (never a red ↑ $0.00), else `text` coloured as `delta_color` says."""
    if change is None:
        return {"delta": None}
    if round(float(change), 2) == 0:   # zero to the cent (or to 0.01 %)
        return {"delta": "unchanged", "delta_color": "off", "delta_arrow": "off"}
    return {"delta": text, "delta_color": delta_color}


def axis_currency_format() -> str:
    """d3 format string for Altair axes and tooltips."""
    return "$,.0f" if get_settings().currency == "USD" else ",.0f"


_ALWAYS = frozenset("\\`*[]<>#|~$&{}")        # start a construct wherever they stand
_LINE_START = re.compile(r"^([ \t]*)([-+=>]|\d+[.)])", re.M)  # list items, setext underlines, quotes, ordered lists
_SHORTCODE_CLOSE = re.compile(r"(:[\w+-]+)(?=:)")   # the colon closing an emoji shortcode `:smile:`
_DIRECTIVE_OPEN = re.compile(r":(?=[^\W\d]|[+/\[{-])")  # `:red[…]`, `:material/…:`, `http://`
# remark-gfm's autolink-literal transform (mdast-util-gfm-autolink-literal, bundled in Streamlit 1.67's frontend) runs
# on the parsed text, after escapes are resolved: `(https?://|www(?=\.))…` and `…@domain.tld` become links whatever
# was escaped. A WORD JOINER (U+2060: invisible, no line break, not whitespace or punctuation to JavaScript's regexes)
# after the scheme, between `www` and its dot and after `@` breaks each pattern; the text reads the same.
WORD_JOINER = "\u2060"
_AUTOLINK = re.compile(r"(https?)(?=:)|(www)(?=\.)|(@)(?=[-\w])", re.I | re.A)
_MATERIAL = re.compile(r":material/", re.I)  # Streamlit rewrites `:material/` before parsing


def unlinked(text: str) -> str:
    """`text` with a WORD JOINER wherever remark-gfm would autolink it (a bare URL's scheme, `www.`, an e-mail `@`):
    the visible text is unchanged. `plain` applies it; tests use it for the text a page renders."""
    return _AUTOLINK.sub(lambda m: m.group(0) + WORD_JOINER, text)


def plain(text: object) -> str:
    """`text` as Streamlit's Markdown renderer must show it: literally.

    Names, tags, reasons, file names and messages come from files and people. Wherever Streamlit renders Markdown
    (metrics, captions, alerts, toasts, titles, widget labels, help tooltips) `![x](http://…)` would be an image the
    viewer's browser fetches, `[x](…)` a link, `<img …>` HTML, `$…$` LaTeX, `:red[…]`/`:material/…:`/`:smile:`
    colours and icons, `# …` a heading. CommonMark lets a backslash escape any ASCII punctuation character; this
    escapes every character that can open a construct where it stands, and nothing else, so ordinary text
    ("gcp.jsonl: 4 rows", "cost_line", "A-12") is unchanged and the rendered text is exactly `text`:

    - always: backslash, backtick, `* [ ] < > # | ~ $ & { }` (links, images and footnotes need `[`; HTML and
      autolinks `<`; `!` and `( )` are inert without them);
    - `_` unless it stands between two letters or digits (intraword underscores never emphasise);
    - `:` where it would open a directive (`:red[`, `:material/`, `http:/`) or close an emoji shortcode;
    - at a line's start: `- + = >` and the `.`/`)` of `1.`/`1)` (lists, setext headings, quotes);
    - bare URLs and e-mail addresses, which remark-gfm links after parsing (escapes cannot stop that): an invisible
      WORD JOINER (U+2060) goes after `http`/`https` before `:`, between `www` and `.`, and after `@`, so
      `see http://host/phish` and `ops@example.com` show as the same text, not as links. Copied from the page,
      such text carries the invisible joiner.

    Newlines are kept (paragraphs stay paragraphs). Do not put the result inside a code span (backticks): code
    spans show backslashes.
    """
    raw = unlinked("" if text is None else str(text))
    colons = {m.end(1) for m in _SHORTCODE_CLOSE.finditer(raw)} | {m.start() for m in _DIRECTIVE_OPEN.finditer(raw)}
    slashes = {m.end() - 1 for m in _MATERIAL.finditer(raw)}
    out = []
    for i, ch in enumerate(raw):
        escape = (ch in _ALWAYS or (ch == ":" and i in colons) or (ch == "/" and i in slashes)
                  or (ch == "_" and not (0 < i < len(raw) - 1 and raw[i - 1].isalnum() and raw[i + 1].isalnum())))
        out.append("\\" + ch if escape else ch)
    done = "".join(out)
    return _LINE_START.sub(lambda m: m.group(1) + (f"\\{m.group(2)}" if not m.group(2)[0].isdigit()
                                                   else m.group(2)[:-1] + "\\" + m.group(2)[-1]), done)


def _no_table_export() -> None:
    """Hide st.dataframe's own toolbar CSV download and clipboard copy, app-wide.

    That download writes text cells raw (`=HYPERLINK(…)` stays a live formula), bypassing engine/outputs/exports;
    every table that users may take away has the formula-safe buttons of ui/downloads.py instead. The option is
    process-wide and sent to the browser at the start of every run; every page imports this module, so it is on
    from the second page run of the server process. (Rerunning from inside the import to cover that first run
    broke concurrent imports; `disableDataExport = true` in .streamlit/config.toml covers it from the start.)
    """
    if st.get_option("client.disableDataExport") is not True:
        st.set_option("client.disableDataExport", True)


_no_table_export()
