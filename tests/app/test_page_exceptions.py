"""The business-exceptions page: FinOps requests, the requester cannot approve, an admin approves, the list says it is
in force; auditors read without forms."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import store
from tests.app.conftest import page_as

pytestmark = pytest.mark.usefixtures("app_env")


def _button(at, label: str):  # noqa: ANN001, ANN202
    return next(b for b in at.button if b.label == label)


def test_request_then_someone_else_approves(app_db: Path) -> None:
    at = page_as("exceptions", "fiona").run()
    assert not at.exception
    at.selectbox(key="bx_treatment").set_value("hold_centrally")
    at.selectbox(key="bx_field").set_value("service_name")
    at.text_input(key="bx_value").input("Amazon EC2")
    at.text_input(key="bx_detail").input("CC039")
    at.text_input(key="bx_reason").input("migration to the new landing zone")
    _button(at, "Request").click().run()
    assert not at.exception and not at.error
    assert any("requested" in s.value for s in at.success)

    at = page_as("exceptions", "fiona").run()                 # the requester is refused by the engine
    at.text_input(key="bx_note").input("fine by me")
    _button(at, "Approve").click().run()
    assert any("someone else must decide it" in e.value for e in at.error)

    at = page_as("exceptions", "admin").run()
    at.text_input(key="bx_note").input("agreed")
    _button(at, "Approve").click().run()
    assert not at.error and any("approved" in s.value for s in at.success)
    con = store.connect(app_db)
    try:
        assert con.execute("SELECT exception_id, approved_by FROM exception WHERE exception_id LIKE 'BX-%'"
                           ).fetchall() == [("BX-1", "admin")]
    finally:
        con.close()
    audrey = page_as("exceptions", "audrey").run()
    assert not audrey.exception and not any(b.label in ("Request", "Approve") for b in audrey.button)
    assert "in force" in audrey.dataframe[0].value["status"].tolist()
