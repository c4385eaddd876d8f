"""Month close → Journals: the month's journal summarised from the engine (documents, debits, what stays
unallocated), three downloads, and the GL mapping form (finops / admin) that saves an audited change."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import store
from engine.access.users import get_user
from engine.outputs import journals
from engine.outputs.journals import mapping
from tests.app.conftest import page_as
from ui.formats import money

pytestmark = pytest.mark.usefixtures("app_env")
PERIOD = "2026-10"


def test_journals_section_shows_the_engines_journal(app_db: Path) -> None:
    con = store.connect(app_db)
    j = journals.build(con, PERIOD)
    con.close()
    at = page_as("month_close", "fiona").run()
    assert not at.exception
    assert any(h.value == "Journals" for h in at.subheader)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Debits posted"] == money(j.total_debit)
    assert metrics["Left unallocated (not charged out)"] == money(j.unallocated)
    assert any(f"{len(j.documents)} documents, each balanced" in c.value and j.reference in c.value
               for c in at.caption)
    shown = next(df.value for df in at.dataframe if "document" in df.value.columns)
    assert list(shown["document"]) == [d.number for d in j.documents]
    labels = {b.proto.label for b in at.get("download_button")}
    assert {"SAP FI posting", "Oracle GL_INTERFACE", "Journal CSV"} <= labels


def test_mapping_form_saves_an_audited_change(app_db: Path) -> None:
    at = page_as("month_close", "fiona").run()
    at.selectbox(key="mc_gl_pool").select("backup").run()
    debit = next(t for t in at.text_input if t.label == "Debit account")
    assert debit.value == "6440"
    debit.input("6445")
    next(b for b in at.button if b.label == "Save mapping").click().run()
    assert not at.exception and not at.error
    con = store.connect(app_db)
    try:
        assert mapping.load(con)["backup"].debit_account == "6445"
        assert con.execute("SELECT actor FROM audit_event WHERE action = 'gl_mapping.set' AND entity_id = 'backup'"
                           ).fetchall() == [("fiona",)]
        mapping.set_mapping(con, get_user(con, "admin"), pool="backup", debit_account="6440", credit_account="6490",
                            credit_cost_center="CC036", description="IT recharge: backup and recovery")
    finally:
        con.close()

