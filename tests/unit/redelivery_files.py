"""FOCUS files of one billing month (AWS, account 1234567890123, September 2024) cut from the real 1,000-row sample:
a full delivery and a short re-delivery of the same month, for the re-delivery tests (unit, CLI, page, browser)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path

from tests.conftest import SAMPLES

FOCUS10 = SAMPLES / "focus_1.0_sample_1000rows.csv"
ACCOUNT, PERIOD = "1234567890123", "2024-09"


def focus_month(dest: Path, n: int, *, scale: str | None = None) -> Path:
    """`n` AWS rows of September 2024 from the sample (repeated with a new `Id` past its 942 AWS rows); `scale`
    multiplies every BilledCost/EffectiveCost (as text, exactly)."""
    rows = list(csv.reader(io.StringIO(FOCUS10.read_text())))
    head = rows[0]
    prov, ident = head.index("ProviderName"), head.index("Id")
    aws = [r for r in rows[1:] if r[prov] == "AWS"]
    out = []
    for i in range(n):
        r = list(aws[i % len(aws)])
        if i >= len(aws):
            r[ident] = f"{r[ident]}-{i // len(aws)}"
        if scale is not None:
            for col in ("BilledCost", "EffectiveCost"):
                j = head.index(col)
                r[j] = str(Decimal(r[j]) * Decimal(scale))
        out.append(r)
    with open(dest, "w", newline="") as f:
        csv.writer(f, quoting=csv.QUOTE_MINIMAL).writerows([head, *out])
    return dest


def sums(path: Path) -> tuple[int, Decimal, Decimal]:
    """Rows, billed and effective cost of a file as a person would add them up (every row, exact)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return (len(rows), sum((Decimal(r["BilledCost"]) for r in rows), Decimal(0)),
            sum((Decimal(r["EffectiveCost"]) for r in rows), Decimal(0)))
