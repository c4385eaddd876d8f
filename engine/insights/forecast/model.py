"""The forecast model, pure numpy over daily series: a run-rate level with a weekly profile, and its interval.

Each row of a (scopes × days) matrix is one cost centre's daily effective cost that is *not* a known commitment.
The fit reads the last whole weeks before (and including) the as-of day:

- weekly profile: for each weekday, the mean of that weekday over the last `MAX_WEEKS` weeks (fewer when the store
  holds less), divided by the mean of the whole window; the seven factors average to 1 over a week;
- level: the mean of the last `LEVEL_WEEKS` weeks (whole weeks, so no weekday is over-weighted);
- a day `d` ahead is forecast as ``level × factor[weekday(d)]``.

The interval for a sum over a set of future days S (days ahead 1, 2, …) is a normal-approximation 80% band whose
variance has three parts, each estimated from the scope's own history:

    V(S) = σ²·|S|                 day-to-day noise around the weekly profile (residual variance in the window)
         + σ²·|S|² / n_level      the uncertainty of the level itself (a mean of n_level days)
         + τ²·L²·Σ_{j,k∈S} min(j, k) / DAYS_PER_MONTH
                                  the level drifting like a random walk: τ is the root mean square of the scope's
                                  month-over-month change in average daily cost over its last closed months

Every part grows with the number of days summed and the last with their distance, so a later month or a longer
period always gets a wider band (docs/forecast.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

from engine.errors import InputError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

MAX_WEEKS = 8            # weeks read for the weekly profile and the noise
LEVEL_WEEKS = 4          # weeks averaged for the level
MIN_HISTORY_DAYS = 7     # one whole week, or there is no weekly profile to speak of
DRIFT_MONTHS = 6         # month-over-month changes read for the drift
MIN_DRIFT_CHANGES = 2    # fewer closed months than this: no drift term
DAYS_PER_MONTH = 30.4375
COVERAGE = 0.80
Z = NormalDist().inv_cdf(0.5 + COVERAGE / 2)


@dataclass(frozen=True)
class Fit:
    """One fitted run-rate per scope (row)."""

    level: FloatArray        # (n,) mean daily cost of the last LEVEL_WEEKS weeks
    factors: FloatArray      # (n, 7) weekday factors, index 0 = Monday
    sigma: FloatArray        # (n,) residual standard deviation of a day around the weekly profile
    drift: FloatArray        # (n,) τ, relative month-over-month drift of the level
    level_days: int
    last_day: date           # the as-of day: day 1 ahead is the day after

    def daily(self, days: list[date]) -> FloatArray:
        """(n, len(days)) forecast of each day."""
        if not days:
            return np.zeros((self.level.shape[0], 0))
        wd = np.array([d.weekday() for d in days], dtype=np.int64)
        return self.level[:, None] * self.factors[:, wd]

    def variance(self, days: list[date]) -> FloatArray:
        """(n,) variance of the sum over `days` (all after `last_day`)."""
        ahead = np.sort(np.array([(d - self.last_day).days for d in days], dtype=np.float64))
        s = float(ahead.size)
        if not s:
            return np.zeros_like(self.level)
        i = np.arange(ahead.size, dtype=np.float64)
        pair_min = float(np.sum(ahead * (2 * (s - i) - 1)))   # Σ_{j,k∈S} min(j, k), S sorted ascending
        noise = self.sigma ** 2 * (s + s * s / self.level_days)
        walk = (self.drift * self.level) ** 2 * pair_min / DAYS_PER_MONTH
        out: FloatArray = noise + walk
        return out

    def half_width(self, days: list[date]) -> FloatArray:
        out: FloatArray = Z * np.sqrt(self.variance(days))
        return out


def weekdays_of(last_day: date, n_days: int) -> IntArray:
    """Weekday (Monday 0) of each column of an n-day window ending on `last_day`."""
    first = last_day - timedelta(days=n_days - 1)
    return (np.arange(n_days, dtype=np.int64) + first.weekday()) % 7


def drift(monthly_means: FloatArray) -> FloatArray:
    """τ per scope from (n, months) average daily cost of closed months, oldest first: the root mean square of the
    last DRIFT_MONTHS relative changes where the earlier month had positive cost; 0 with fewer than two."""
    n, m = monthly_means.shape
    out = np.zeros(n)
    if m < 2:
        return out
    prev, cur = monthly_means[:, :-1], monthly_means[:, 1:]
    ok = prev > 0
    change = np.where(ok, cur / np.where(ok, prev, 1.0) - 1.0, 0.0)
    for r in range(n):
        values = change[r][ok[r]][-DRIFT_MONTHS:]
        if values.size >= MIN_DRIFT_CHANGES:
            out[r] = float(np.sqrt(np.mean(values ** 2)))
    return out


def fit(history: FloatArray, last_day: date, monthly_means: FloatArray | None = None) -> Fit:
    """Fit every row of `history` (n, H): daily cost up to and including `last_day` (the last column)."""
    n, h = history.shape
    weeks = min(MAX_WEEKS, h // 7)
    if weeks < 1:
        raise InputError(f"forecast: the run-rate needs at least {MIN_HISTORY_DAYS} days of history, got {h}")
    window = history[:, h - 7 * weeks:]
    wd = weekdays_of(last_day, window.shape[1])
    by_weekday = np.stack([window[:, wd == w].mean(axis=1) for w in range(7)], axis=1)   # (n, 7)
    overall = window.mean(axis=1)
    positive = overall > 0
    factors = np.where(positive[:, None], by_weekday / np.where(positive, overall, 1.0)[:, None], 1.0)
    level_weeks = min(LEVEL_WEEKS, weeks)
    level = history[:, h - 7 * level_weeks:].mean(axis=1)
    if weeks >= 2:
        resid = window - by_weekday[:, wd]
        sigma = np.sqrt((resid ** 2).sum(axis=1) / (window.shape[1] - 7))
    else:
        sigma = window.std(axis=1, ddof=1)
    tau = drift(monthly_means) if monthly_means is not None else np.zeros(n)
    return Fit(level, factors, sigma, tau, 7 * level_weeks, last_day)
