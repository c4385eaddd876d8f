"""Apportion's cost-anomaly detectors: pure functions over daily series (no store, no SQL, no clock).

A series is one amount per consecutive calendar day (missing days are zero spend). Its history starts on its first
day with non-zero spend: zeros before that are "did not exist yet", not data. Only increases are flagged — an
anomaly here is money spent that nobody expected; a drop is not a cost risk.

Seasonal rule (`"seasonal"`, once a series has 8 weeks = 56 days of history before the day judged):

- expected (baseline) b_t = median of the same weekday over the last 4 weeks: x[t-7], x[t-14], x[t-21], x[t-28];
- relative residual r_t = (x_t - b_t) / max(|b_t|, guard), guard = max(floor, 1): a zero or tiny baseline is
  measured against the dollar floor instead of dividing by ~0;
- robust scale: over the previous 28 residuals R = r[t-28..t-1], m = median(R), s = max(1.4826 · MAD(R), min_scale);
- score z_t = (r_t - m) / s (Iglewicz and Hoaglin's modified z-score: centring on m absorbs a steady trend);
- flag when z_t > k AND x_t - b_t > floor.

Short-history fallback (`"week_over_week"`, from 1 to 8 weeks of history): expected e_t = x[t-7] (the same weekday
last week); flag when (x_t - e_t) / max(|e_t|, guard) > fallback_change AND x_t - e_t > floor. The score reported is
that relative change (0.8 = +80 %). With less than 7 days of history nothing is judged.

New entity (`"new_entity"`): a series whose first non-zero day falls in the window, after at least one observed day
without it, and whose spend from that day to the end of the window reaches the floor. Expected is 0, actual and
excess are that spend, score is None.

Arithmetic here is float64; engine.insights.anomalies.scan reports store amounts to the cent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from engine.errors import InputError

Rule = Literal["seasonal", "week_over_week", "new_entity"]
RULES: tuple[Rule, ...] = ("seasonal", "week_over_week", "new_entity")

SEASON = 7                       # days in the weekly cycle
WEEKS = 4                        # same weekdays in the baseline
LOOKBACK = SEASON * WEEKS        # 28: baseline lags and residuals in the scale
FULL_HISTORY = 2 * LOOKBACK      # 56 days (8 weeks) before the seasonal rule applies
MAD_TO_SIGMA = 1.4826            # MAD of a normal sample × this = its standard deviation

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class DetectorParams:
    """The documented knobs. `k` and `floor` are the ones to tune; the other two are fixed guards."""

    k: float = 3.5                 # modified z-score a day must exceed
    floor: float = 50.0            # currency units a day must exceed its expected amount by
    min_scale: float = 0.02        # smallest relative scale (a perfectly flat history has MAD 0)
    fallback_change: float = 0.5   # short history: rise over the same weekday last week (0.5 = +50 %)

    def __post_init__(self) -> None:
        for name in ("k", "min_scale", "fallback_change"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and np.isfinite(value) and value > 0):
                raise InputError(f"anomaly detector: {name} must be a positive number, not {value!r}")
        if not (isinstance(self.floor, int | float) and np.isfinite(self.floor) and self.floor >= 0):
            raise InputError(f"anomaly detector: floor must be zero or a positive amount, not {self.floor!r}")

    @property
    def guard(self) -> float:
        """Denominator floor of relative changes: a zero baseline is measured against the dollar floor."""
        return max(float(self.floor), 1.0)


DEFAULT_PARAMS = DetectorParams()


@dataclass(frozen=True)
class Flag:
    """One flagged day of one series."""

    date: date
    actual: float
    expected: float
    excess: float
    score: float | None
    rule: Rule


@dataclass(frozen=True)
class MatrixFlags:
    """Flags of `detect_matrix`: parallel arrays, one entry per flagged (row, column)."""

    row: IntArray
    col: IntArray
    expected: FloatArray
    score: FloatArray
    rule: list[Rule]

    def __len__(self) -> int:
        return int(self.row.size)


@dataclass(frozen=True)
class Baselines:
    """Per-cell intermediates of the detector, for callers that score series their own way (the bench)."""

    history: IntArray      # days of history before each day (negative before the first spend)
    seasonal: FloatArray   # b_t, NaN where the series has less than 4 weeks of history
    score: FloatArray      # z_t, NaN where the seasonal rule does not apply
    last_week: FloatArray  # x[t-7], NaN where there is no such day in the series' history
    change: FloatArray     # week-over-week relative change, NaN where last_week is NaN


def _matrix(x: npt.ArrayLike) -> FloatArray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2:
        raise InputError(f"anomaly detector: expected a 2-D array (series × days), got {arr.ndim} dimension(s)")
    if not np.isfinite(arr).all():
        raise InputError("anomaly detector: amounts must be finite numbers")
    return arr


def _median4(a: FloatArray, b: FloatArray, c: FloatArray, d: FloatArray) -> FloatArray:
    """Element-wise median of four arrays: the mean of the two middle values."""
    total = a + b + c + d
    high = np.maximum(np.maximum(a, b), np.maximum(c, d))
    low = np.minimum(np.minimum(a, b), np.minimum(c, d))
    out: FloatArray = (total - high - low) / 2
    return out


def baselines(x: npt.ArrayLike, params: DetectorParams = DEFAULT_PARAMS,
              cells: npt.NDArray[np.bool_] | None = None) -> Baselines:
    """Baseline, score and week-over-week change for every cell of `x` (rows = series, columns = consecutive
    days), each computed from that row's own earlier days only. `cells` limits where the score (the costly part)
    is computed; elsewhere it is NaN."""
    m = _matrix(x)
    rows, n = m.shape
    nonzero = m != 0
    first = np.where(nonzero.any(axis=1), nonzero.argmax(axis=1), n).astype(np.int64)
    history = (np.arange(n, dtype=np.int64)[None, :] - first[:, None]).astype(np.int64)

    seasonal = np.full((rows, n), np.nan)
    if n > LOOKBACK:
        lags = [m[:, LOOKBACK - SEASON * w: n - SEASON * w] for w in range(1, WEEKS + 1)]
        seasonal[:, LOOKBACK:] = _median4(*lags)
    seasonal[history < LOOKBACK] = np.nan
    with np.errstate(invalid="ignore"):
        resid = (m - seasonal) / np.maximum(np.abs(seasonal), params.guard)

    score = np.full((rows, n), np.nan)
    if n > LOOKBACK:
        usable = history[:, LOOKBACK:] >= FULL_HISTORY
        if cells is not None:
            usable &= cells[:, LOOKBACK:]
        if usable.any():
            windows = sliding_window_view(resid, LOOKBACK, axis=1)[:, : n - LOOKBACK]  # window j = days j..j+27
            win = windows[usable]                     # (cells, 28): the 28 residuals before each judged day
            med = np.median(win, axis=1)
            mad = np.median(np.abs(win - med[:, None]), axis=1)
            scale = np.maximum(MAD_TO_SIGMA * mad, params.min_scale)
            judged = score[:, LOOKBACK:]              # a view: writes land in `score`
            judged[usable] = (resid[:, LOOKBACK:][usable] - med) / scale

    last_week = np.full((rows, n), np.nan)
    if n > SEASON:
        last_week[:, SEASON:] = m[:, :-SEASON]
    last_week[history < SEASON] = np.nan
    with np.errstate(invalid="ignore"):
        change = (m - last_week) / np.maximum(np.abs(last_week), params.guard)
    return Baselines(history, seasonal, score, last_week, change)


def detect_matrix(x: npt.ArrayLike, since: int = 0, params: DetectorParams = DEFAULT_PARAMS) -> MatrixFlags:
    """The seasonal rule and its short-history fallback over many series sharing one day axis.

    `x`: rows = series, columns = consecutive days. Only columns ≥ `since` are judged (earlier ones are history).
    """
    m = _matrix(x)
    judged = np.zeros(m.shape, dtype=bool)
    judged[:, max(since, 0):] = True
    # The dollar test is cheap and rules out most cells: the robust scale is computed only where it can matter.
    cheap = baselines(m, params, cells=np.zeros(m.shape, dtype=bool))
    with np.errstate(invalid="ignore"):
        candidates = judged & (cheap.history >= FULL_HISTORY) & (m - cheap.seasonal > params.floor)
    b = baselines(m, params, cells=candidates) if candidates.any() else cheap
    with np.errstate(invalid="ignore"):
        seasonal = candidates & (b.score > params.k)
        weekly = (judged & (b.history >= SEASON) & (b.history < FULL_HISTORY)
                  & (b.change > params.fallback_change) & (m - b.last_week > params.floor))
    rows_s, cols_s = np.nonzero(seasonal)
    rows_w, cols_w = np.nonzero(weekly)
    row = np.concatenate([rows_s, rows_w]).astype(np.int64)
    col = np.concatenate([cols_s, cols_w]).astype(np.int64)
    order = np.lexsort((col, row))
    expected = np.concatenate([b.seasonal[rows_s, cols_s], b.last_week[rows_w, cols_w]])
    score = np.concatenate([b.score[rows_s, cols_s], b.change[rows_w, cols_w]])
    seasonal_rule: list[Rule] = ["seasonal"]
    weekly_rule: list[Rule] = ["week_over_week"]
    rules = seasonal_rule * len(rows_s) + weekly_rule * len(rows_w)
    return MatrixFlags(row[order], col[order], expected[order], score[order], [rules[i] for i in order])


def new_entities_matrix(x: npt.ArrayLike, since: int, floor: float) -> tuple[IntArray, IntArray, FloatArray]:
    """(rows, first-day columns, spend since that day) of the series that start at or after column `since`, after
    at least one column without them, and spend at least `floor` from then to the last column."""
    m = _matrix(x)
    rows, n = m.shape
    nonzero = m != 0
    first = np.where(nonzero.any(axis=1), nonzero.argmax(axis=1), n)
    total = m.sum(axis=1)  # everything before `first` is zero
    hit = (first >= max(since, 1)) & (first < n) & (total >= floor)
    idx = np.nonzero(hit)[0].astype(np.int64)
    return idx, first[idx].astype(np.int64), total[idx]


def dense(dates: Sequence[date], amounts: Sequence[float] | FloatArray) -> tuple[date | None, FloatArray]:
    """A (first day, amounts per consecutive day) series from dated amounts; days not given are zero."""
    if len(dates) != len(amounts):
        raise InputError(f"anomaly detector: {len(dates)} dates but {len(amounts)} amounts")
    if not len(dates):
        return None, np.zeros(0)
    if len(set(dates)) != len(dates):
        raise InputError("anomaly detector: each date may appear once (sum the day's amounts first)")
    start = min(dates)
    out = np.zeros((max(dates) - start).days + 1)
    for d, a in zip(dates, amounts, strict=True):
        out[(d - start).days] = float(a)
    return start, out


def detect(dates: Sequence[date], amounts: Sequence[float] | FloatArray, params: DetectorParams = DEFAULT_PARAMS,
           since: date | None = None) -> list[Flag]:
    """Flagged days of one daily series (see the module docstring for the rules), oldest first; `since` limits the
    days judged (earlier days are still history)."""
    start, x = dense(dates, amounts)
    if start is None:
        return []
    skip = max((since - start).days, 0) if since is not None else 0
    found = detect_matrix(x[None, :], skip, params)
    return [
        Flag(start + timedelta(days=int(c)), float(x[c]), float(e), float(x[c] - e), float(s), rule)
        for c, e, s, rule in zip(found.col, found.expected, found.score, found.rule, strict=True)
    ]


def new_entity(dates: Sequence[date], amounts: Sequence[float] | FloatArray, since: date,
               params: DetectorParams = DEFAULT_PARAMS) -> Flag | None:
    """The `new_entity` flag of one series, or None. `dates` should start where the observed data starts (zeros
    before the entity existed): a series seen from its own first day is never new."""
    start, x = dense(dates, amounts)
    if start is None:
        return None
    rows, first, total = new_entities_matrix(x[None, :], max((since - start).days, 0), params.floor)
    if not len(rows):
        return None
    return Flag(start + timedelta(days=int(first[0])), float(total[0]), 0.0, float(total[0]), None, "new_entity")
