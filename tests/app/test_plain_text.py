"""Text from files and people stays text: every Markdown-rendering call in pages/ and ui/ gets `plain(...)` around
what it interpolates, and `plain` escapes exactly what Streamlit's Markdown would read as a construct."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import streamlit as st

from ui.formats import WORD_JOINER, plain

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted([*(ROOT / "pages").glob("*.py"), *(ROOT / "ui").glob("*.py")])

# Calls whose text argument(s) Streamlit renders as Markdown: which positional indexes and keywords to check.
BODY = {"markdown", "caption", "success", "info", "warning", "error", "toast", "subheader", "title", "header",
        "write", "expander", "status", "popover"}
LABELLED = {"button", "download_button", "form_submit_button", "link_button", "page_link", "selectbox",
            "multiselect", "radio", "text_input", "text_area", "number_input", "slider", "select_slider",
            "checkbox", "toggle", "segmented_control", "pills", "date_input", "time_input", "file_uploader"}
CHECKED_KEYWORDS = {"label", "body", "help"}   # metric adds value and delta

# Values known to be app-generated (numbers, money, fixed wording): they need no plain().
SAFE_CALLS = {"plain", "money", "pct", "len"}

# Call sites whose non-literal text is app-generated, each with the reason. Keyed by (file, first source line of the
# argument).
ALLOWLIST: dict[tuple[str, str], str] = {
    ("ui/auth.py", "str(exc)"): "a ConfigError about the cookie key: wording from engine/settings.py, no data",
    ("ui/auth.py", "message"): "deny(): refusal wording from require_role with the user's role name (a fixed enum)",
    ("pages/ingest.py", "text"): "built with plain() one line above (the joined ingest messages)",
    ("ui/empty.py", 'f"No {what} yet. Load the demo organisation with `make demo-data` '
                    '(or `python -m data.generate`), "'):
        "`what` is always a literal passed by a page (\"posted allocation run\", \"rule set\" …)",
}


def _is_safe(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return node.value is None or isinstance(node.value, str | int | float)
    if isinstance(node, ast.Call):
        f = node.func
        name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
        return name in SAFE_CALLS
    if isinstance(node, ast.JoinedStr):
        return all(_is_safe(v) for v in node.values)
    if isinstance(node, ast.FormattedValue):
        # a format spec (`:,`, `:.1f`) only formats numbers; anything else must come through plain()
        return node.format_spec is not None or _is_safe(node.value)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _is_safe(node.left) and _is_safe(node.right)
    if isinstance(node, ast.IfExp):
        return _is_safe(node.body) and _is_safe(node.orelse)
    if isinstance(node, ast.BoolOp):
        return all(_is_safe(v) for v in node.values)
    if isinstance(node, ast.List | ast.Tuple):
        return all(_is_safe(e) for e in node.elts)
    return False


def _checked_args(call: ast.Call) -> list[ast.expr]:
    f = call.func
    if not isinstance(f, ast.Attribute):
        return []
    name = f.attr
    keywords = [k.value for k in call.keywords if k.arg in CHECKED_KEYWORDS]
    if name == "metric":
        return [*call.args[:3], *keywords, *(k.value for k in call.keywords if k.arg in ("value", "delta"))]
    if name == "tabs":
        return [*call.args[:1], *keywords]
    if name in BODY or name in LABELLED:
        return [*call.args[:1], *keywords]
    if name == "update":  # st.status(...).update(label=...)
        return [k.value for k in call.keywords if k.arg == "label"]
    return []


def _offences() -> list[str]:
    found = []
    for path in SOURCES:
        rel = path.relative_to(ROOT).as_posix()
        source = path.read_text()
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.Call):
                continue
            for arg in _checked_args(node):
                segment = (ast.get_source_segment(source, arg) or "").splitlines()[0]
                if not _is_safe(arg) and (rel, segment) not in ALLOWLIST:
                    found.append(f"{rel}:{arg.lineno}: {segment}")
    return found


def test_every_markdown_call_in_pages_and_ui_shows_data_as_plain_text() -> None:
    assert _offences() == []


def test_the_checker_catches_what_it_should(tmp_path: Path) -> None:
    bad = ["st.metric('Biggest mover', name)", "st.caption(f'Scoped to {names}')", "st.error(str(exc))",
           "c.button(f'› {value}')", "st.toast(f'Saved {sc.name}')", "st.metric(name, money(x))",
           "st.tabs([name])", "status.update(label=f'{f.name}')", "st.metric('x', 1, help=f'{p}')",
           "st.expander(label)", "st.write('a ' + name)"]
    good = ["st.metric('Biggest mover', plain(name))", "st.caption(f'{n:,} events')", "st.error(plain(exc))",
            "st.metric('Total', money(t), delta=money(d) + ' vs prior' if d else None)", "st.tabs(['A', 'B'])",
            "st.success(f'**{plain(p)}**: {a:,} seats')", "st.caption('literal')"]
    for line in bad:
        call = ast.parse(line).body[0].value  # type: ignore[attr-defined]
        assert not all(_is_safe(a) for a in _checked_args(call)), line
    for line in good:
        call = ast.parse(line).body[0].value  # type: ignore[attr-defined]
        assert all(_is_safe(a) for a in _checked_args(call)), line


def test_allowlist_entries_still_exist() -> None:
    """A stale allowlist entry would hide nothing today but could hide the next change at that site."""
    for rel, segment in ALLOWLIST:
        assert segment in (ROOT / rel).read_text(), (rel, segment)


def test_every_page_with_a_table_imports_formats() -> None:
    """ui.formats turns off st.dataframe's raw toolbar download at import: a page that shows a table must import it
    (directly or through ui.charts / ui.downloads) so the option is set before its first table is sent."""
    for path in sorted((ROOT / "pages").glob("*.py")):
        text = path.read_text()
        if "st.dataframe(" in text:
            assert re.search(r"^from ui\.(formats|charts|downloads) import|^from ui import .*\bcharts\b", text,
                             re.M), path.name
    assert st.get_option("client.disableDataExport") is True


# ---- plain(): the escaping rules -------------------------------------------------------------------------------

def _text_node(md: str) -> str:
    """CommonMark's rule for backslash escapes: a backslash before ASCII punctuation stands for that character. The
    result is the text node remark-gfm's autolink transform then reads."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", md)


def _unescape(md: str) -> str:
    """What a reader sees: the text node without plain()'s invisible word joiners."""
    return _text_node(md).replace(WORD_JOINER, "")


# The patterns of mdast-util-gfm-autolink-literal's transform as Streamlit 1.67's frontend bundles them
# (static/js/StreamlitMarkdown.*.js): a bare URL (scheme or www.) and an e-mail address.
GFM_URL = re.compile(r"(https?://|www(?=\.))([-.\w]+)([^ \t\r\n]*)", re.I | re.A)
GFM_EMAIL = re.compile(r"([-.\w+]+)@([-\w]+(?:\.[-\w]+)+)", re.A)


PAYLOADS = [
    "![svc](http://127.0.0.1:9/x.png)", "<img src=http://127.0.0.1:9/y.png>", "[click](javascript:alert(1))",
    "**bold** _it_ *it* `code` ~~gone~~", "$x^2$ and $$y$$", ":red[alarm] :material/home: :smile: :a:b:",
    "# heading", "1. one\n2) two\n- three\n+ four\n> quote\n===", "a | b | c\n---|---|---", "&amp; &#60;",
    "{: .class} {#id}", "www.example.com", "back\\slash \\*", "<https://x>", "line one\n\nline two",
    "see http://127.0.0.1:9/phish", "HTTPS://WWW.Example.com/a?b=c", "mail ops@example.com or mailto:x@y.io",
]


@pytest.mark.parametrize("text", PAYLOADS)
def test_plain_round_trips(text: str) -> None:
    """What the renderer shows after resolving the escapes is the original text, character for character."""
    assert _unescape(plain(text)) == text


@pytest.mark.parametrize("text", PAYLOADS)
def test_plain_leaves_no_construct_open(text: str) -> None:
    out = plain(text)
    unescaped = re.sub(r"\\[!-/:-@\[-`{-~]", "", out)  # what is left after removing every escaped character
    for ch in "[]<>`*$|~&{}#\\":
        assert ch not in unescaped, (ch, out)
    assert not re.search(r":[\w+-]+:", unescaped)                 # no emoji shortcode
    assert not re.search(r":(?=[^\W\d]|[+/\[{-])", unescaped)      # no directive, no `http:/`
    assert not re.search(r"(?m)^[ \t]*([-+=>]|\d+[.)])", out)  # no list, quote or setext line
    assert ":material/" not in out                                  # Streamlit's pre-parse rewrite cannot fire
    node = _text_node(out)
    assert not GFM_URL.search(node) and not GFM_EMAIL.search(node), node  # no bare URL or address is linked


@pytest.mark.parametrize(("text", "node"), [
    ("see http://127.0.0.1:9/phish", f"see http{WORD_JOINER}://127.0.0.1:9/phish"),
    ("www.example.com", f"www{WORD_JOINER}.example.com"),
    ("ops@example.com", f"ops@{WORD_JOINER}example.com"),
])
def test_plain_breaks_autolinks_with_an_invisible_joiner(text: str, node: str) -> None:
    """Before the fix each of these matched remark-gfm's pattern after escaping; now a WORD JOINER sits inside."""
    assert GFM_URL.search(_text_node(text)) or GFM_EMAIL.search(_text_node(text))
    assert _text_node(plain(text)) == node


@pytest.mark.parametrize("text", ["Chain intact: 12 events verified, none changed or removed.",
                                  "gcp.jsonl: 4 rows would load into cost_line", "A-0012 is now acknowledged.",
                                  "CC-OPS · 2026-10", "10:30 (UTC)", "Hello, world!", "snake_case_name"])
def test_plain_leaves_ordinary_text_alone(text: str) -> None:
    assert plain(text) == text


def test_plain_takes_any_value() -> None:
    assert plain(None) == "" and plain(12) == "12" and plain(ValueError("a*b")) == "a\\*b"


def test_plain_in_a_streamlit_script_keeps_the_text() -> None:
    """Through Streamlit itself: the markdown element carries the escaped body, which resolves to the payload."""
    from streamlit.testing.v1 import AppTest

    def script() -> None:
        import streamlit as st

        from ui.formats import plain

        st.markdown(plain("![svc](http://127.0.0.1:9/x.png) :red[x] $y$"))
        st.metric(plain("<b>label</b>"), plain("![v](http://127.0.0.1:9/v.png)"))

    at = AppTest.from_function(script).run()
    assert not at.exception
    assert _unescape(at.markdown[0].value) == "![svc](http://127.0.0.1:9/x.png) :red[x] $y$"
    assert _unescape(at.metric[0].label) == "<b>label</b>"
    assert _unescape(at.metric[0].value) == "![v](http://127.0.0.1:9/v.png)"
