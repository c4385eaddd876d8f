"""Allocation methods as small pure functions: each turns its inputs into shares (target → fraction, summing to
exactly 1 up to 40 significant digits) or an empty dict when there is nothing to share by.

Methods never move money and never round: the cascade multiplies pools by shares and posting rounds once.
Quantities ≤ 0 carry no share (a credit or a missing meter must not pull cost towards a target).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

Shares = dict[str, Decimal]


def _restrict(values: Mapping[str, Decimal], targets: Iterable[str] | None) -> dict[str, Decimal]:
    keep = None if targets is None else set(targets)
    return {t: v for t, v in sorted(values.items()) if v > 0 and (keep is None or t in keep)}


def proportional(values: Mapping[str, Decimal], targets: Iterable[str] | None = None) -> Shares:
    """Share by one quantity per target: a driver (headcount, GB-month, CPU-hours…) or cost already allocated."""
    kept = _restrict(values, targets)
    total = sum(kept.values(), Decimal(0))
    if total <= 0:
        return {}
    return {t: v / total for t, v in kept.items()}


def weighted(per_driver: Mapping[str, Mapping[str, Decimal]], weights: Mapping[str, float],
             targets: Iterable[str] | None = None) -> Shares:
    """Weighted mix: each driver's own shares times its normalised weight. A driver with no data this period
    drops out and the remaining weights are renormalised, so the pool is still shared in full."""
    target_list = None if targets is None else list(targets)
    parts: list[tuple[Decimal, Shares]] = []
    for d in sorted(weights):
        w = Decimal(weights[d])
        if w <= 0:
            continue
        s = proportional(per_driver.get(d, {}), target_list)
        if s:
            parts.append((w, s))
    wsum = sum((w for w, _ in parts), Decimal(0))
    if wsum <= 0:
        return {}
    out: dict[str, Decimal] = {}
    for w, s in parts:
        f = w / wsum
        for t, v in s.items():
            out[t] = out.get(t, Decimal(0)) + f * v
    return dict(sorted(out.items()))


def even(targets: Iterable[str]) -> Shares:
    ts = sorted(set(targets))
    if not ts:
        return {}
    one = Decimal(1) / len(ts)
    return dict.fromkeys(ts, one)


def fixed(split_percent: Mapping[str, Decimal]) -> Shares:
    """Fixed percentages; the model already refused splits that do not add up to 100."""
    return {t: Decimal(p) / 100 for t, p in sorted(split_percent.items()) if p != 0}


def drop_and_renormalise(shares: Shares, dropped: set[str]) -> Shares:
    """Remove targets that may not receive (earlier pools in a step-down, all pools in the direct method) and
    scale the rest back to 100 %: that is exactly how the textbook step-down and direct methods are defined."""
    kept = {t: v for t, v in shares.items() if t not in dropped}
    total = sum(kept.values(), Decimal(0))
    if not kept or total == 0:
        return {}
    if len(kept) == len(shares):
        return kept
    return {t: v / total for t, v in kept.items()}
