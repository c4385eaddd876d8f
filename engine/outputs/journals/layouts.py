"""The journal in the files ERPs import: SAP FI posting, Oracle GL_INTERFACE, and a generic CSV (docs/journals.md).

Every layout is CSV written by `engine.outputs.exports.to_csv_bytes` (text cells neutralised against formulas;
amounts exact) and holds nothing that changes between two exports of one run (no clock, no user), so re-exporting a
run is byte-identical.

- SAP: one row per line item, the fields of BAPI_ACC_DOCUMENT_POST (DOCUMENTHEADER: COMP_CODE, DOC_DATE, PSTNG_DATE,
  FISC_YEAR, FIS_PERIOD, DOC_TYPE, REF_DOC_NO, HEADER_TXT; ACCOUNTGL: ITEMNO_ACC, GL_ACCOUNT, COSTCENTER,
  ITEM_TEXT, ALLOC_NMBR; CURRENCYAMOUNT: CURRENCY, AMT_DOCCUR signed), the flat file an LSMW / BAPI upload groups
  by REF_DOC_NO. Dates are SAP DATS (YYYYMMDD); numeric accounts and cost centres are zero-padded to 10 (the
  internal ALPHA format a BAPI expects, since it runs no conversion exit).
- Oracle: the GL_INTERFACE columns a Journal Import reads (STATUS NEW, LEDGER_ID, ACCOUNTING_DATE, CURRENCY_CODE,
  DATE_CREATED, CREATED_BY, ACTUAL_FLAG A, USER_JE_CATEGORY_NAME, USER_JE_SOURCE_NAME, SEGMENT1 company,
  SEGMENT2 cost centre, SEGMENT3 account, ENTERED_DR, ENTERED_CR, REFERENCE1/2 batch, REFERENCE4/5 journal,
  REFERENCE10 line, GROUP_ID).
- CSV: every field of the journal, one row per line, debit and credit columns.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Literal

import polars as pl

from engine.errors import InputError
from engine.outputs.exports import to_csv_bytes
from engine.outputs.journals.entries import Journal

Layout = Literal["sap", "oracle", "csv"]
MONEY = pl.Decimal(18, 2)


def _alpha(value: str | None, width: int = 10) -> str | None:
    """SAP's ALPHA conversion: a purely numeric key is stored with leading zeros; anything else as is."""
    return value.zfill(width) if value is not None and value.isdigit() else value


def sap(j: Journal) -> pl.DataFrame:
    day = j.posting_date.strftime("%Y%m%d")
    rows = [{
        "COMP_CODE": j.company_code, "DOC_DATE": day, "PSTNG_DATE": day, "FISC_YEAR": j.fiscal_year,
        "FIS_PERIOD": j.fiscal_period, "DOC_TYPE": "SA", "REF_DOC_NO": d.number, "HEADER_TXT": d.header_text[:25],
        "ITEMNO_ACC": ln.number, "GL_ACCOUNT": _alpha(ln.account), "COSTCENTER": _alpha(ln.cost_center) or "",
        "ITEM_TEXT": ln.text[:50], "ALLOC_NMBR": j.run_key[:18], "CURRENCY": j.currency, "AMT_DOCCUR": ln.amount,
    } for d in j.documents for ln in d.lines]
    return pl.DataFrame(rows, schema={
        "COMP_CODE": pl.String, "DOC_DATE": pl.String, "PSTNG_DATE": pl.String, "FISC_YEAR": pl.Int64,
        "FIS_PERIOD": pl.Int64, "DOC_TYPE": pl.String, "REF_DOC_NO": pl.String, "HEADER_TXT": pl.String,
        "ITEMNO_ACC": pl.Int64, "GL_ACCOUNT": pl.String, "COSTCENTER": pl.String, "ITEM_TEXT": pl.String,
        "ALLOC_NMBR": pl.String, "CURRENCY": pl.String, "AMT_DOCCUR": MONEY,
    }, orient="row")


def oracle(j: Journal) -> pl.DataFrame:
    day = j.posting_date.isoformat()
    group_id = int(j.run_key[:7], 16)
    zero = Decimal("0.00")
    rows = [{
        "STATUS": "NEW", "LEDGER_ID": j.ledger_id, "ACCOUNTING_DATE": day, "CURRENCY_CODE": j.currency,
        "DATE_CREATED": day, "CREATED_BY": -1, "ACTUAL_FLAG": "A",
        "USER_JE_CATEGORY_NAME": "Allocation" if d.kind == "chargeback" else "Depreciation",
        "USER_JE_SOURCE_NAME": "Apportion", "SEGMENT1": j.company_code, "SEGMENT2": ln.cost_center or "",
        "SEGMENT3": ln.account, "ENTERED_DR": ln.debit if ln.amount > 0 else None,
        "ENTERED_CR": ln.credit if ln.amount < 0 else None,
        "REFERENCE1": f"Apportion {j.period} {j.run_key[:8]}", "REFERENCE2": j.reference,
        "REFERENCE4": d.number, "REFERENCE5": d.header_text, "REFERENCE10": ln.text, "GROUP_ID": group_id,
    } for d in j.documents for ln in d.lines if ln.amount != zero]
    return pl.DataFrame(rows, schema={
        "STATUS": pl.String, "LEDGER_ID": pl.Int64, "ACCOUNTING_DATE": pl.String, "CURRENCY_CODE": pl.String,
        "DATE_CREATED": pl.String, "CREATED_BY": pl.Int64, "ACTUAL_FLAG": pl.String,
        "USER_JE_CATEGORY_NAME": pl.String, "USER_JE_SOURCE_NAME": pl.String, "SEGMENT1": pl.String,
        "SEGMENT2": pl.String, "SEGMENT3": pl.String, "ENTERED_DR": MONEY, "ENTERED_CR": MONEY,
        "REFERENCE1": pl.String, "REFERENCE2": pl.String, "REFERENCE4": pl.String, "REFERENCE5": pl.String,
        "REFERENCE10": pl.String, "GROUP_ID": pl.Int64,
    }, orient="row")


def generic(j: Journal) -> pl.DataFrame:
    lines = j.frame()
    return lines.select(
        "document", "line",
        pl.lit(j.period).alias("period"), pl.lit(j.posting_date.isoformat()).alias("posting_date"),
        pl.lit(j.fiscal_year).alias("fiscal_year"), pl.lit(j.fiscal_period).alias("fiscal_period"),
        pl.lit(j.company_code).alias("company_code"), "account", "cost_center", "debit", "credit",
        pl.lit(j.currency).alias("currency"), "classification", "kind", "pool", "text",
        pl.lit(j.run_key).alias("run_key"), pl.lit(j.rule_set).alias("rule_set"),
        pl.lit(j.rule_version).alias("rule_version"),
    )


LAYOUTS: dict[str, Callable[[Journal], pl.DataFrame]] = {"sap": sap, "oracle": oracle, "csv": generic}
FILE_SUFFIX: dict[str, str] = {"sap": "sap_fi", "oracle": "oracle_gl_interface", "csv": "journal"}


def render(j: Journal, layout: str) -> bytes:
    """The journal in `layout` as CSV bytes."""
    try:
        make = LAYOUTS[layout]
    except KeyError:
        raise InputError(f"layout must be one of {', '.join(LAYOUTS)}, not {layout!r}") from None
    return to_csv_bytes(make(j))


def file_name(j: Journal, layout: str) -> str:
    return f"journal_{j.period}_{j.run_key[:8]}_{FILE_SUFFIX.get(layout, layout)}.csv"
