"""The methodology generated for the demo rule set names every step, driver, exception and policy — the expected
names come from the rule set and the store, not from a list written here — in Markdown and in HTML, with text from
people kept as text."""

from __future__ import annotations

import html
import re
from decimal import Decimal

import duckdb
import pytest

from engine.costmodels.commitments import CommitmentPolicy, save_policy
from engine.costmodels.presets import PRESETS
from engine.costmodels.scenarios import Scenario, Subsidy, save_scenario
from engine.errors import NotFound
from engine.outputs import methodology
from engine.rules import versions

PAYLOAD = "![x](http://127.0.0.1:9/x.png) <b>shared</b> [approve](http://h/p)"


def _stage(con: duckdb.DuckDBPyConnection) -> None:
    """An exception in force (with a hostile reason), one expired, an unused-commitment policy and a scenario."""
    con.execute("INSERT INTO exception VALUES ('EX-LB-01', 'resource_id', 'lb-shared',"
                " '{\"method\": \"fixed\", \"split\": {\"CC001\": 60, \"CC002\": 40}}', ?, 'admin', '2026-01', NULL)",
                [PAYLOAD])
    con.execute("INSERT INTO exception VALUES ('EX-DB-OLD', 'resource_id', 'db-1', '{\"method\": \"even\"}',"
                " 'migration', 'admin', '2025-01', '2025-06')")
    save_policy(con, CommitmentPolicy(mode="spread_pro_rata", effective_from="2026-01", reason="FY26 decision"),
                "fiona")
    save_scenario(con, Scenario(name="Network subsidised", model="subsidised", markup_pct=Decimal(2),
                                subsidies=[Subsidy(values=["network"], pct=Decimal(50))]), "fiona")


def test_the_demo_methodology_names_every_step_driver_exception_and_policy(
        demo_con: duckdb.DuckDBPyConnection) -> None:
    _stage(demo_con)
    doc = methodology.build(demo_con)
    rv = versions.as_of(demo_con, "demo_default", doc.period)
    rs = rv.rule_set
    md, page = doc.to_markdown(), doc.to_html()
    text = html.unescape(re.sub(r"<[^>]+>", " ", page))
    unescaped_md = re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", md)

    expected = [s.name for s in rs.steps] + [s.id for s in rs.steps]
    expected += methodology.drivers_of(rs)
    expected += [d for s in rs.steps for d in ([s.method.driver] if s.method.driver else [])]
    expected += [d for s in rs.steps for d in (s.method.weights or {})]
    expected += [eid for (eid,) in demo_con.execute("SELECT exception_id FROM exception").fetchall()]
    expected += list(methodology.POLICIES)
    expected += [p.name for p in PRESETS] + ["Network subsidised", "spread_pro_rata", "FY26 decision"]
    expected += [rv.body_hash, rv.author, str(rv.approver), str(rv.effective_from), f"version {rv.version}"]
    assert set(methodology.drivers_of(rs)) == {"bandwidth_gb", "protected_assets", "storage_gb_month", "cpu_hours",
                                               "headcount", "revenue"}
    for name in expected:
        assert name in unescaped_md, name
        assert name in text, name
    # every step, in order, is a row of the steps table
    steps = next(s for s in doc.sections if s.anchor == "steps")
    table = next(b for b in steps.blocks if isinstance(b, methodology.Table))
    assert [(r[0], r[2]) for r in table.rows] == [(str(i), s.id) for i, s in enumerate(rs.steps, 1)]
    # every policy is its own section
    assert {s.title for s in doc.sections} >= set(methodology.POLICIES)
    # the exception in force is marked so, the expired one not
    exceptions = next(s for s in doc.sections if s.anchor == "exceptions")
    rows = {r[0]: r for b in exceptions.blocks if isinstance(b, methodology.Table) for r in b.rows}
    assert rows["EX-LB-01"][2] == "fixed split CC001 60 %, CC002 40 %" and rows["EX-LB-01"][-1] == "yes"
    assert rows["EX-DB-OLD"][-1] == "no"
    assert "Unused-commitment policy in force for 2026-10: spread_pro_rata" in text


def test_text_from_people_stays_text(demo_con: duckdb.DuckDBPyConnection) -> None:
    _stage(demo_con)
    doc = methodology.build(demo_con)
    page = doc.to_html()
    assert "<b>shared</b>" not in page and "<img" not in page and 'href="http' not in page
    assert html.escape(PAYLOAD) in page
    md = doc.to_markdown()
    assert "![x](" not in md and "[approve](" not in md and "<b>" not in md
    assert r"\!\[x\](http\://127.0.0.1:9/x.png) \<b\>shared\</b\> \[approve\](http\://h/p)" in md


def test_a_rule_set_without_an_approved_version_is_refused(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(NotFound, match="no approved rule set"):
        methodology.build(con)
    with pytest.raises(versions.VersionError, match="no approved version"):
        methodology.build(con, "nothing_here", "2026-10")
