"""Issue 14 acceptance: the access matrix as a test — every page (ui/navigation.py PAGES whose file exists) × every
demo user, opened by URL in AppTest against one module-scoped copy of the demo store (the `app_db` fixture).

Allowed role: the page runs without an exception and without the refusal. Refused role: the page shows exactly the
refusal — one error naming the role — and nothing else: no dataframe, table, metric, chart, download button or any
other element. The refusal cases are cheap (the guard stops the script first); the allowed cases are the real check.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block, Node

from data.generate import DEMO_LOGINS
from tests.app.conftest import page_as
from ui.navigation import PAGES

pytestmark = pytest.mark.usefixtures("app_env")

USERS = ("admin", "fiona", "eve", "omar", "audrey")
ROLE = {user: DEMO_LOGINS[user][1] for user in USERS}
REFUSAL = "cannot open this page"
CASES = [(p.key, user) for p in PAGES if p.path.exists() for user in USERS]
# What a page shows data with; a refused page shows none of these (and, checked below, nothing but its error).
DATA_ELEMENTS = ("dataframe", "table", "metric", "arrow_vega_lite_chart", "vega_lite_chart", "plotly_chart",
                 "download_button", "json")


def _leaves(node: Node) -> Iterator[Node]:
    if isinstance(node, Block):
        for child in node.children.values():
            yield from _leaves(child)
    else:
        yield node


def _types(at: AppTest) -> list[str]:
    return [leaf.type for leaf in _leaves(at._tree)]


def test_the_matrix_covers_every_page_and_role() -> None:
    assert {ROLE[u] for u in USERS} == {"admin", "finops", "executive", "app_owner", "auditor"}
    pages = {key for key, _ in CASES}
    assert pages == {p.key for p in PAGES if p.path.exists()} and len(pages) >= 20
    for p in PAGES:  # admins open every page
        assert "admin" in p.roles, p.key


@pytest.mark.parametrize(("key", "user"), CASES, ids=[f"{k}-{u}" for k, u in CASES])
def test_page_as_role(key: str, user: str) -> None:
    spec = next(p for p in PAGES if p.key == key)
    role = ROLE[user]
    at = page_as(key, user).run()
    assert not at.exception, (key, user, [e.value for e in at.exception])
    errors = [e.value for e in at.error]
    if role in spec.roles:
        assert not any(REFUSAL in e for e in errors), (key, user, errors)
        assert [t.value for t in at.title][:1] == [spec.title], (key, user)
        assert len(_types(at)) > 1, (key, user)  # more than its title: the page went past the guard and rendered
    else:
        assert errors == [f"Your role ({role}) cannot open this page."], (key, user)
        types = _types(at)
        assert not [t for t in types if t in DATA_ELEMENTS], (key, user, types)
        assert types == ["error"], (key, user, types)
