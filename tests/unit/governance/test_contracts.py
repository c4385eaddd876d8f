"""The contract register: renewal reviews from the notice date, the allocation clauses missing per vendor, committed
spend kept per currency, changes guarded and audited."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import duckdb
import pytest

from engine.access.users import User
from engine.errors import AccessDenied, InputError
from engine.governance import contracts
from engine.governance.contracts import Contract
from tests.conftest import add_users

FIONA = User("fiona", "Fiona", "finops", None)
TODAY = date(2026, 12, 1)


def test_renewals_missing_clauses_and_currencies(con: duckdb.DuckDBPyConnection) -> None:
    add_users(con, "finops", "fiona")
    aws = contracts.record(con, FIONA, Contract("AWS", "EDP 2025", date(2025, 1, 1), date(2027, 2, 1),
                                                Decimal("1200000"), "USD", True, True, True, False, 90))
    contracts.record(con, FIONA, Contract("AWS", "Support", date(2025, 1, 1), date(2027, 12, 31), Decimal("50000"),
                                          "USD", False, False, False, False, 60))
    sap = contracts.record(con, FIONA, Contract("SAP", "RISE", date(2024, 1, 1), date(2029, 1, 1),
                                                Decimal("900000"), "EUR", False, False, True, True, 180))
    reg = contracts.register(con, TODAY)
    row = {r["contract_no"]: r for r in reg.iter_rows(named=True)}
    assert row[aws]["review_from"] == date(2026, 11, 3) and row[aws]["renewal_due"]     # 1 Feb 2027 − 90 days
    assert not row[sap]["renewal_due"] and row[aws]["missing_for_allocation"] == "invoice detail"
    assert contracts.renewals_due(con, TODAY)["contract_no"].to_list() == [aws]
    missing = dict(contracts.missing_by_vendor(con, TODAY).select("vendor", "missing").iter_rows())
    assert missing == {"AWS": "invoice detail", "SAP": "usage reports, resource tags"}
    assert contracts.committed_by_currency(con) == {"EUR": Decimal("900000.00"), "USD": Decimal("1250000.00")}
    assert con.execute("SELECT count(*) FROM audit_event WHERE action = 'contract.record'").fetchall() == [(3,)]


def test_bad_contracts_and_roles_are_refused(con: duckdb.DuckDBPyConnection) -> None:
    good = Contract("AWS", "EDP", date(2026, 1, 1), date(2027, 1, 1), Decimal(1), "USD", True, True, True, True)
    with pytest.raises(AccessDenied):
        contracts.record(con, User("eve", "Eve", "executive", None), good)
    for bad, message in ((Contract("AWS", "EDP", date(2027, 1, 1), date(2026, 1, 1), Decimal(1), "USD", True,
                                   True, True, True), "ends"),
                         (Contract("AWS", "EDP", date(2026, 1, 1), date(2027, 1, 1), Decimal(1), "usd", True, True,
                                   True, True), "ISO 4217"),
                         (Contract(" ", "EDP", date(2026, 1, 1), date(2027, 1, 1), Decimal(1), "USD", True, True,
                                   True, True), "vendor")):
        with pytest.raises(InputError, match=message):
            contracts.record(con, FIONA, bad)
