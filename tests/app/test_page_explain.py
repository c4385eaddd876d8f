"""The "Explain a charge" page: real AppTest on the demo store; its figures checked against allocation_result."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from engine import store
from tests.app.conftest import page_as
from ui.formats import money

pytestmark = pytest.mark.usefixtures("app_env")


def _sql(db: Path, q: str, params: list[object] | None = None) -> list[tuple[Any, ...]]:
    con = store.connect(db)
    try:
        return con.execute(q, params or []).fetchall()
    finally:
        con.close()


def test_auditor_sees_a_business_unit_charge_re_derived(app_db: Path) -> None:
    at = page_as("explain", "audrey").run()
    assert not at.exception and not at.error
    period = at.selectbox(key="explain_period").value
    at.radio(key="explain_kind").set_value("business_unit").run()
    bu = at.selectbox(key="explain_target").value
    key = _sql(app_db, "SELECT run_key FROM allocation_run WHERE period = ? AND status = 'posted'"
                       " ORDER BY finished_at DESC LIMIT 1", [period])[0][0]
    total = Decimal(_sql(app_db, "SELECT sum(posted_amount) FROM allocation_result WHERE run_key = ? AND"
                                 " cost_center_id IN (SELECT unit_id FROM org_unit WHERE parent_id = ?)",
                         [key, bu])[0][0])
    assert next(m.value for m in at.metric if m.label == "Posted total") == money(total)
    assert any(t.value.startswith(f"Posted total {total} ") for t in at.text)
    cells = at.table[0].value
    assert sum(Decimal(v) for v in cells["Posted"]) == total
    assert len(at.expander) == len(cells)
    rederive = [t.value for t in at.text if t.value.startswith("Re-derive cell")]
    assert len(rederive) == len(cells) and all("= posted" in line for line in rederive)


def test_app_owner_picks_only_own_cost_centres(app_db: Path) -> None:
    at = page_as("explain", "omar").run()
    assert not at.exception and not at.error
    assert "business_unit" not in at.radio(key="explain_kind").options
    own = {r[0] for r in _sql(app_db, "SELECT cost_center_id FROM user_scope WHERE username = 'omar'")}
    at.radio(key="explain_kind").set_value("cost_center").run()
    assert all(o.split(" · ")[0] in own for o in at.selectbox(key="explain_target").options)


def test_executive_is_refused() -> None:
    at = page_as("explain", "eve").run()
    assert not at.table and not at.metric
