"""Time-based charges cut into monthly allocation periods, exact to the cent.

Per-second billing and spot capacity produce charges whose start and end ignore month boundaries; a month close
must carry only the part of each charge that fell inside it, and the parts must add back to the charge exactly
(otherwise the allocation no longer reconciles to the invoice).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, Decimal

import polars as pl

from engine.costmodels.pricing import split_cents, to_cents
from engine.errors import InputError

SECONDS_PER_HOUR = Decimal(3600)


def month_key(ts: datetime) -> str:
    """YYYY-MM, the period key used by cost_line.billing_period and allocation_run.period."""
    return f"{ts.year:04d}-{ts.month:02d}"


def _next_month(ts: datetime) -> datetime:
    first = ts.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return first.replace(year=first.year + 1, month=1) if first.month == 12 else first.replace(month=first.month + 1)


def month_slices(start: datetime, end: datetime) -> list[tuple[str, Decimal]]:
    """(period, seconds) of [start, end) that fall in each calendar month; naive timestamps are taken as UTC."""
    if end < start:
        raise InputError("a charge cannot end before it starts")
    out: list[tuple[str, Decimal]] = []
    cursor = start
    while cursor < end:
        boundary = min(_next_month(cursor), end)
        out.append((month_key(cursor), Decimal(str((boundary - cursor).total_seconds()))))
        cursor = boundary
    return out


def prorate(amount: Decimal, start: datetime, end: datetime) -> dict[str, Decimal]:
    """Split a charge over the months it spans in proportion to time; the cents add up to the charge exactly.

    A zero-length charge (a one-off fee) books entirely to the month it starts in.
    """
    slices = month_slices(start, end)
    if not slices:
        return {month_key(start): to_cents(amount)}
    return split_cents(amount, {p: s for p, s in slices}, order=[p for p, _ in slices])


@dataclass(frozen=True)
class RunInterval:
    """A stretch of actual run time at one price (spot prices change; burstable adds surplus-credit charges)."""

    start: datetime
    end: datetime
    hourly_price: Decimal
    surplus_credit_charge: Decimal = Decimal(0)


def billable_seconds(start: datetime, end: datetime, *, minimum_seconds: int = 60, granularity_seconds: int = 1) -> int:
    """Per-second billing with the vendor's minimum (60 s on AWS/Azure Linux) and rounding up to the granularity."""
    if end < start:
        raise InputError("a run cannot end before it starts")
    seconds = Decimal(str((end - start).total_seconds()))
    seconds = max(seconds, Decimal(minimum_seconds))
    blocks = (seconds / granularity_seconds).to_integral_value(rounding=ROUND_CEILING)
    return int(blocks) * granularity_seconds


def runtime_charges(intervals: Sequence[RunInterval], *, minimum_seconds: int = 60,
                    granularity_seconds: int = 1) -> dict[str, Decimal]:
    """Spot or burstable capacity charged by actual run time, per month, to the cent.

    Each interval is costed unrounded (billable seconds × hourly price / 3600 + surplus credits), the run is rounded
    once, and the cents are spread over the months by the seconds actually run in each, so the monthly parts add up
    to the run's charge.
    """
    total = Decimal(0)
    weights: dict[str, Decimal] = {}
    order: list[str] = []
    for iv in intervals:
        secs = billable_seconds(iv.start, iv.end, minimum_seconds=minimum_seconds,
                                granularity_seconds=granularity_seconds)
        cost = Decimal(secs) * iv.hourly_price / SECONDS_PER_HOUR + iv.surplus_credit_charge
        total += cost
        slices = month_slices(iv.start, iv.end) or [(month_key(iv.start), Decimal(0))]
        run = sum((s for _, s in slices), Decimal(0))
        for period, s in slices:
            if period not in weights:
                weights[period] = Decimal(0)
                order.append(period)
            # Each interval's cost lands in its months by time; an interval shorter than the minimum lands at its start.
            weights[period] += cost * (s / run if run else Decimal(1))
    if not order:
        return {}
    if sum(weights.values(), Decimal(0)) == 0:
        return {p: Decimal("0.00") for p in order}
    return split_cents(total, weights, order=order)


def prorate_until(amount: Decimal, start: datetime, end: datetime, as_of: datetime) -> Decimal:
    """The part of a charge consumed by `as_of` (accruals at a mid-month cut-off), rounded to the cent."""
    if as_of <= start:
        return Decimal("0.00")
    if as_of >= end or end == start:
        return to_cents(amount)
    return to_cents(amount * Decimal(str((as_of - start) / timedelta(seconds=1))) /
                    Decimal(str((end - start) / timedelta(seconds=1))))


def prorate_frame(df: pl.DataFrame, *, amount: str = "amount", start: str = "start", end: str = "end") -> pl.DataFrame:
    """Set-based `prorate` for many charges: one output row per input row and month it touches, with `period` and
    the month's cents in `amount`; per input row the cents add up to the row's amount rounded to the cent.

    Integer arithmetic (cents × microseconds in Int128) with largest remainder per row, ties to the earlier month,
    so the result equals `prorate` row by row without a Python loop over lines.
    """
    one_us = pl.duration(microseconds=1)
    d = df.with_row_index("_line").with_columns(
        (pl.col(amount).cast(pl.Decimal(38, 10)).round(2, mode="half_away_from_zero") * 100)
        .cast(pl.Int128).alias("_cents"),
        pl.datetime_ranges(pl.col(start).dt.truncate("1mo"),
                           pl.max_horizontal(pl.col(end) - one_us, pl.col(start)).dt.truncate("1mo"),
                           interval="1mo").alias("_m"),
    ).explode("_m")
    seg_start = pl.max_horizontal(pl.col(start), pl.col("_m"))
    seg_end = pl.min_horizontal(pl.col(end), pl.col("_m").dt.offset_by("1mo"))
    total = (pl.col(end) - pl.col(start)).dt.total_microseconds().cast(pl.Int128)
    d = d.with_columns(
        pl.when(total > 0).then((seg_end - seg_start).dt.total_microseconds().cast(pl.Int128))
        .otherwise(pl.lit(1, dtype=pl.Int128)).alias("_w"),
        pl.when(total > 0).then(total).otherwise(pl.lit(1, dtype=pl.Int128)).alias("_t"),
    ).with_columns(
        (pl.col("_cents").abs() * pl.col("_w") // pl.col("_t")).alias("_floor"),
        (pl.col("_cents").abs() * pl.col("_w") % pl.col("_t")).alias("_rem"),
    )
    d = d.sort(["_line", "_rem", "_m"], descending=[False, True, False]).with_columns(
        (pl.col("_cents").abs() - pl.col("_floor").sum().over("_line")).alias("_left"),
        (pl.int_range(pl.len()).over("_line") + 1).alias("_rank"),
    ).sort("_line", "_m").with_columns(
        ((pl.col("_floor") + (pl.col("_rank") <= pl.col("_left")).cast(pl.Int128)) * pl.col("_cents").sign())
        .alias("_part")
    )
    out = d.with_columns(
        pl.col("_m").dt.strftime("%Y-%m").alias("period"),
        (pl.col("_part").cast(pl.Decimal(38, 0)) * pl.lit(Decimal("0.01"), dtype=pl.Decimal(3, 2)))
        .cast(pl.Decimal(18, 2)).alias(amount),
    )
    return out.drop("_line", "_cents", "_m", "_w", "_t", "_floor", "_rem", "_left", "_rank", "_part")
