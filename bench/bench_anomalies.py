"""Anomaly detection on labelled synthetic daily cost series: Apportion's detector against re-implementations of
the peers' published methods, all on the same series in the same run.

Series mix (fixed seed): level log-uniform $200–$20,000/day; weekly pattern (weekend factor 0.3–1.0, ±5 % weekday
wiggle, random weekday of day 0); compound trend −0.2 %…+0.4 %/day; multiplicative Gaussian noise, CV 2–10 %.
Anomalies: 20 % of series quiet; the others get 1–3 one-day spikes (+40 %…+200 % of that day's clean amount, at
least 7 days apart) and, with probability 0.35, a level shift (+30 %…+100 % from a day in 35–100 to the end).
Spikes stay clear of a shift's [start − 7, start + 27].

Scoring (increases only, for every method: only increases were injected and Apportion flags only increases), over
days 14..119 (the first two weeks warm every method up):
- a spike is detected if its day is flagged; a level shift if its first or second day is flagged;
- flags on those days are true; flags on a shift's days 3–28 are "repeats" (the new level is settling; counted
  apart, neither true nor false); flags on every other day are false alarms;
- recall = detected / injected; precision = true flags / (true + false flags); false alarms per 30 normal days.

Goal: Apportion recall ≥ 0.8 with ≤ 0.3 false alarms per 30 normal days and the best F1. Not collected by pytest
(no test_ prefix); run `python -m bench` or `python -m bench.bench_anomalies [--series N] [--seed S]`.
tests/unit/insights/anomalies/test_bench_slice.py runs a 20-series slice as a correctness check.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from engine.insights.anomalies.detectors import FULL_HISTORY, DetectorParams, detect_matrix

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
SEED = 13
N_SERIES = 200
DAYS = 120
EVAL_START = 14
SHIFT_WINDOW = 2      # a level shift counts as detected if flagged on its first SHIFT_WINDOW days
SETTLE_DAYS = 28      # a shift's days after the detection window that are neither normal nor anomalous

Matrix = np.ndarray


@dataclass
class Synthetic:
    x: Matrix                                   # (series, days)
    spikes: list[list[int]] = field(default_factory=list)
    shifts: list[int | None] = field(default_factory=list)
    meta: list[dict[str, float]] = field(default_factory=list)


def synthesize(n: int = N_SERIES, seed: int = SEED, days: int = DAYS) -> Synthetic:
    """`n` labelled series of `days` days (see the module docstring for the mix)."""
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    out = Synthetic(np.zeros((n, days)))
    for i in range(n):
        level = float(np.exp(rng.uniform(np.log(200), np.log(20_000))))
        weekend = rng.uniform(0.3, 1.0)
        pattern = np.concatenate([1 + rng.uniform(-0.05, 0.05, 5), [weekend, weekend]])
        offset = int(rng.integers(0, 7))
        growth = rng.uniform(-0.002, 0.004)
        cv = rng.uniform(0.02, 0.10)
        clean = level * pattern[(t + offset) % 7] * (1 + growth) ** t
        shift: int | None = None
        if rng.random() < 0.35:
            shift = int(rng.integers(35, 101))
            clean = clean * np.where(t >= shift, 1 + rng.uniform(0.3, 1.0), 1.0)
        x = np.maximum(clean * (1 + cv * rng.standard_normal(days)), 0.0)
        spikes: list[int] = []
        if rng.random() >= 0.2:
            want = int(rng.integers(1, 4))
            allowed = [d for d in range(EVAL_START, days)
                       if shift is None or not shift - 7 <= d < shift + SETTLE_DAYS]
            for _ in range(200):
                if len(spikes) == want or not allowed:
                    break
                d = int(rng.choice(allowed))
                if all(abs(d - s) >= 7 for s in spikes):
                    spikes.append(d)
            for d in spikes:
                x[d] += clean[d] * rng.uniform(0.4, 2.0)
        out.x[i] = x
        out.spikes.append(sorted(spikes))
        out.shifts.append(shift)
        out.meta.append({"level": level, "weekend": weekend, "growth": growth, "cv": cv})
    return out


# ---- the methods: each maps the (series × days) matrix to a boolean flag matrix -----------------------------------

def apportion(params: DetectorParams) -> Callable[[Matrix], Matrix]:
    def run(x: Matrix) -> Matrix:
        found = detect_matrix(x, EVAL_START, params)
        flags = np.zeros(x.shape, dtype=bool)
        flags[found.row, found.col] = True
        return flags
    return run


def _trailing_mean_std(x: Matrix, n: int) -> tuple[Matrix, Matrix]:
    """Mean and sample std of the `n` days before each day (NaN for the first `n` days)."""
    mean = np.full(x.shape, np.nan)
    std = np.full(x.shape, np.nan)
    win = np.lib.stride_tricks.sliding_window_view(x, n, axis=1)[:, :-1]  # window j = days j..j+n-1, judged j+n
    mean[:, n:] = win.mean(axis=2)
    std[:, n:] = win.std(axis=2, ddof=1)
    return mean, std


def kubecost(lookback: int, threshold: float) -> Callable[[Matrix], Matrix]:
    """Kubecost's documented rule: cost deviates from the mean of the previous `lookback` days by more than the
    outlier threshold (a percentage of that mean); increases only here."""
    def run(x: Matrix) -> Matrix:
        mean, _ = _trailing_mean_std(x, lookback)
        with np.errstate(invalid="ignore"):
            return np.asarray(x > mean * (1 + threshold))
    return run


def mean_k_std(lookback: int, k: float) -> Callable[[Matrix], Matrix]:
    """The z-score reading of a lookback-window test: today > mean + k·std of the previous `lookback` days."""
    def run(x: Matrix) -> Matrix:
        mean, std = _trailing_mean_std(x, lookback)
        with np.errstate(invalid="ignore"):
            return np.asarray(x > mean + k * std)
    return run


def optscale(period: int, threshold: float) -> Callable[[Matrix], Matrix]:
    """OptScale's expense-anomaly policy: today's expenses exceed the average daily expenses of the previous
    `period` days by `threshold` (0.3 = 30 %)."""
    return kubecost(period, threshold)


def _decompose_flags(x: Matrix, period: int, k: float, lo: float, hi: float) -> Matrix:
    """series_decompose_anomalies as documented: seasonal = median of the points in the same phase, trend = average
    of the deseasonalised series ('avg'), residual = x − (seasonal + trend); ctukey score on the residuals
    ((r − P_hi)/(P_hi − P_lo) above P_hi); flag score > k (rises only)."""
    n = x.shape[1]
    seasonal = np.empty_like(x)
    for p in range(period):
        seasonal[:, p::period] = np.median(x[:, p::period], axis=1, keepdims=True)
    trend = (x - seasonal).mean(axis=1, keepdims=True)
    resid = x - (seasonal + trend)
    p_lo = np.percentile(resid, lo, axis=1, keepdims=True)
    p_hi = np.percentile(resid, hi, axis=1, keepdims=True)
    spread = np.maximum(p_hi - p_lo, 1e-12)
    score = np.where(resid > p_hi, (resid - p_hi) / spread, 0.0)
    return np.asarray(score > k) if n else np.zeros(x.shape, dtype=bool)


def finops_window(period: int = 7, k: float = 1.5) -> Callable[[Matrix], Matrix]:
    """The FinOps toolkit's catalog query: series_decompose_anomalies over the whole window at once (it sees the
    days after each day it judges)."""
    return lambda x: _decompose_flags(x, period, k, 10, 90)


def finops_daily(period: int = 7, k: float = 1.5) -> Callable[[Matrix], Matrix]:
    """The same decomposition run each day on the series up to that day, judging only that day (an alerting job)."""
    def run(x: Matrix) -> Matrix:
        flags = np.zeros(x.shape, dtype=bool)
        for t in range(EVAL_START, x.shape[1]):
            flags[:, t] = _decompose_flags(x[:, : t + 1], period, k, 10, 90)[:, -1]
        return flags
    return run


# ---- scoring ------------------------------------------------------------------------------------------------------

@dataclass
class Score:
    events: int
    detected: int
    spikes: int
    spikes_detected: int
    shifts: int
    shifts_detected: int
    true_flags: int
    false_flags: int
    repeat_flags: int
    normal_days: int
    early_events: int = 0          # injected before day FULL_HISTORY (Apportion's fallback judges these)
    early_detected: int = 0

    @property
    def recall(self) -> float:
        return self.detected / self.events if self.events else 1.0

    @property
    def precision(self) -> float:
        flagged = self.true_flags + self.false_flags
        return self.true_flags / flagged if flagged else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def false_per_30(self) -> float:
        return 30 * self.false_flags / self.normal_days if self.normal_days else 0.0

    def as_dict(self) -> dict[str, float]:
        return {**asdict(self), "recall": self.recall, "precision": self.precision, "f1": self.f1,
                "false_alarms_per_30_normal_days": self.false_per_30}


def evaluate(flags: Matrix, data: Synthetic) -> Score:
    n, days = data.x.shape
    s = Score(0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    for i in range(n):
        true_days: set[int] = set(data.spikes[i])
        settle: set[int] = set()
        for d in data.spikes[i]:
            hit = bool(flags[i, d])
            s.spikes += 1
            s.spikes_detected += hit
            s.early_events += d < FULL_HISTORY
            s.early_detected += hit and d < FULL_HISTORY
        shift = data.shifts[i]
        if shift is not None:
            window = range(shift, min(shift + SHIFT_WINDOW, days))
            hit = any(flags[i, d] for d in window)
            s.shifts += 1
            s.shifts_detected += hit
            s.early_events += shift < FULL_HISTORY
            s.early_detected += hit and shift < FULL_HISTORY
            true_days |= set(window)
            settle = set(range(shift + SHIFT_WINDOW, min(shift + SHIFT_WINDOW + SETTLE_DAYS, days)))
        for d in range(EVAL_START, days):
            if d in true_days:
                s.true_flags += bool(flags[i, d])
            elif d in settle:
                s.repeat_flags += bool(flags[i, d])
            else:
                s.normal_days += 1
                s.false_flags += bool(flags[i, d])
    s.events = s.spikes + s.shifts
    s.detected = s.spikes_detected + s.shifts_detected
    return s


APPORTION = DetectorParams()
PEERS: list[tuple[str, str, Callable[[Matrix], Matrix]]] = [
    ("Kubecost (documented: % of lookback mean)", "lookback 7 d, outlier threshold 20 %", kubecost(7, 0.20)),
    ("Lookback mean ± k·std (z-score reading)", "N = 7 d, k = 2", mean_k_std(7, 2.0)),
    ("OptScale expense anomaly", "average of previous 7 d, threshold 30 %", optscale(7, 0.30)),
    ("FinOps toolkit series_decompose_anomalies", "whole window, period 7, trend avg, ctukey 10/90, k = 1.5",
     finops_window()),
    ("  same, run daily on the series so far", "as above, last point judged each day", finops_daily()),
]
GRID_K = (3.0, 3.5, 4.0, 5.0)
GRID_FLOOR = (0.0, 25.0, 50.0, 100.0)
ROBUSTNESS_SEEDS = tuple(range(SEED + 1, SEED + 11))  # ten other mixes of the same recipe
WORK = ROOT / "data" / "bench"
STORE_LINES = 2_000_000
STORE_DAYS = 120
STORE_REPEATS = 3


def _robustness(n: int, methods: list[tuple[str, str, Callable[[Matrix], Matrix]]]) -> dict[str, list[Score]]:
    out: dict[str, list[Score]] = {name: [] for name, _, _ in methods}
    for seed in ROBUSTNESS_SEEDS:
        data = synthesize(n, seed)
        for name, _, method in methods:
            out[name].append(evaluate(method(data.x), data))
    return out


def _make_store(lines: int, db: Path) -> float:
    """A synthetic store for the scan timing: `lines` daily cost lines over STORE_DAYS days, 300 cost centres,
    60 applications, 50 services, 40 accounts, 20,000 resources, 5 % of lines on monthly charge periods."""
    from engine import store

    if db.exists():
        con = store.connect(db)
        have = con.sql("SELECT count(*) FROM cost_line").fetchall()[0][0]
        con.close()
        if have == lines:
            return 0.0
        db.unlink()
    t0 = time.perf_counter()
    con = store.connect(db)
    con.execute("INSERT INTO org_unit SELECT 'BU' || i::VARCHAR, 'BU', 'business_unit', NULL, NULL FROM range(10) t(i)")
    con.execute("INSERT INTO org_unit SELECT 'CC' || lpad(i::VARCHAR, 3, '0'), 'CC', 'cost_center',"
                " 'BU' || (i % 10)::VARCHAR, NULL FROM range(300) t(i)")
    con.execute("INSERT INTO application SELECT 'APP' || i::VARCHAR, 'App', NULL, 'CC' || lpad((i * 5)::VARCHAR, 3,"
                " '0'), NULL, NULL FROM range(60) t(i)")
    con.execute("INSERT INTO account_owner SELECT 'AWS', 'acct-' || i::VARCHAR, 'CC' || lpad((i * 7 % 300)::VARCHAR,"
                " 3, '0'), NULL FROM range(40) t(i)")
    con.execute(f"""
        INSERT INTO cost_line (billing_period, charge_period_start, charge_period_end, provider, sub_account_id,
            service_name, resource_id, charge_category, billed_cost, effective_cost, billing_currency,
            tag_cost_center, tag_application, batch_id)
        SELECT strftime(d, '%Y-%m'), d, CASE WHEN i % 20 = 0 THEN d + INTERVAL 30 DAY ELSE d + INTERVAL 1 DAY END,
               'AWS', 'acct-' || (r % 40)::VARCHAR, 'svc' || (r % 50)::VARCHAR, 'res-' || r::VARCHAR, 'Usage',
               amt, amt, 'USD', CASE WHEN r % 10 = 3 THEN NULL ELSE 'CC' || lpad((r % 300)::VARCHAR, 3, '0') END,
               'APP' || (r % 60)::VARCHAR, 'bench'
        FROM (SELECT i, i % 20000 AS r,
                     TIMESTAMP '2026-01-01' + INTERVAL (i // 20000 % {STORE_DAYS}) DAY AS d,
                     ((hash(i) % 1000000)::DECIMAL(38, 10) / 10000) AS amt
              FROM range({lines}) t(i))
    """)
    con.execute("CHECKPOINT")
    con.close()
    return time.perf_counter() - t0


BARE_SQL = """
SELECT {col} AS scope_id, CAST(charge_period_start AS DATE) AS day, sum(effective_cost) AS cost
FROM cost_line WHERE charge_period_start >= ? AND charge_period_start < ? GROUP BY ALL
"""


def _store_timing(lines: int) -> dict[str, object]:
    """scan() over all five levels for the last 31 days against the bare per-level daily sums (five GROUP BY
    queries, no attribution, no spreading, no detection) on the same store, alternating, median of 3."""
    import statistics
    from datetime import date, timedelta

    from engine import store
    from engine.access.users import User
    from engine.insights.anomalies.scan import scan

    WORK.mkdir(parents=True, exist_ok=True)
    db = WORK / f"anomalies_{lines}.duckdb"
    gen_s = _make_store(lines, db)
    con = store.connect(db)
    end = date(2026, 1, 1) + timedelta(days=STORE_DAYS - 1)
    start = end - timedelta(days=30)
    first = start - timedelta(days=FULL_HISTORY)
    admin = User("bench", "Bench", "admin", None)
    cols = ("tag_cost_center", "tag_application", "service_name", "sub_account_id", "resource_id")
    bare, ours, flags = [], [], 0
    for _ in range(STORE_REPEATS):
        t0 = time.perf_counter()
        for col in cols:
            con.sql(BARE_SQL.format(col=col), params=[first, end + timedelta(days=1)]).fetchall()
        bare.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        flags = scan(con, admin, start, end).height
        ours.append(time.perf_counter() - t0)
    con.close()
    return {"lines": lines, "generated_s": gen_s, "bare_s": statistics.median(bare), "scan_s": statistics.median(ours),
            "ratio": statistics.median(ours) / statistics.median(bare), "flags": flags, "bare_runs": bare,
            "scan_runs": ours}


def _row(name: str, params: str, s: Score, seconds: float) -> str:
    return (f"| {name} | {params} | {s.recall:.3f} | {s.spikes_detected}/{s.spikes} | {s.shifts_detected}/{s.shifts}"
            f" | {s.false_per_30:.3f} | {s.precision:.3f} | {s.f1:.3f} | {s.repeat_flags} | {seconds * 1000:.0f} |")


def run(n: int = N_SERIES, seed: int = SEED, write: bool = True, lines: int = STORE_LINES) -> str:
    t0 = time.perf_counter()
    data = synthesize(n, seed)
    gen_s = time.perf_counter() - t0
    results: list[tuple[str, str, Score, float]] = []
    methods = [("**Apportion**", f"k = {APPORTION.k}, floor = ${APPORTION.floor:.0f}, min scale "
                f"{APPORTION.min_scale}, fallback +{APPORTION.fallback_change:.0%}", apportion(APPORTION)),
               ("  Apportion, k = 4 (not the default)", "as above with k = 4",
                apportion(DetectorParams(k=4.0))), *PEERS]
    for name, params, method in methods:
        t1 = time.perf_counter()
        flags = method(data.x)
        seconds = time.perf_counter() - t1
        results.append((name, params, evaluate(flags, data), seconds))
    grid = {(k, f): evaluate(apportion(DetectorParams(k=k, floor=f))(data.x), data)
            for k in GRID_K for f in GRID_FLOOR}

    robust = _robustness(n, methods)
    timing = _store_timing(lines) if lines else None

    ours = results[0][2]
    peers = results[2:]
    main_peers = [r for r in peers if not r[0].startswith("  ")]     # the methods as their makers ship them
    extra_peers = [r for r in peers if r[0].startswith("  ")]        # my re-runs of them (the daily FinOps job)
    best_main = max(main_peers, key=lambda r: r[2].f1)
    best_extra = max(extra_peers, key=lambda r: r[2].f1)
    goal = {"recall >= 0.8": ours.recall >= 0.8, "false alarms <= 0.3 / 30 normal days": ours.false_per_30 <= 0.3,
            "best F1 of the four": ours.f1 > best_main[2].f1,
            "best F1 including the daily FinOps re-run": ours.f1 > max(best_main[2].f1, best_extra[2].f1)}
    wins_extra = sum(a.f1 > b.f1 for a, b in zip(robust[methods[0][0]], robust[best_extra[0]], strict=True))
    wins_k4 = sum(a.f1 > b.f1 for a, b in zip(robust[methods[1][0]], robust[best_extra[0]], strict=True))
    events = ours.events
    lines = [
        f"# Anomaly detection benchmark: {n} synthetic daily series × {DAYS} days, seed {seed} "
        f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})", "",
        f"{events} injected anomalies ({ours.spikes} one-day spikes, {ours.shifts} level shifts) in "
        f"{sum(1 for s, h in zip(data.spikes, data.shifts, strict=True) if s or h is not None)} series; "
        f"{ours.normal_days:,} normal series-days judged (days {EVAL_START}–{DAYS - 1}). Series generated in "
        f"{gen_s:.2f} s. Every method ran on the same matrix in this run; ms = its wall time over all series.", "",
        "| method | parameters | recall | spikes | shifts | false alarms / 30 normal days | precision | F1 "
        "| repeats on a settling shift | ms |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *[_row(*r) for r in results], "",
        f"Goal (Apportion): recall ≥ 0.8 — {'met' if goal['recall >= 0.8'] else 'NOT met'} ({ours.recall:.3f}); "
        f"false alarms ≤ 0.3 per 30 normal days — "
        f"{'met' if goal['false alarms <= 0.3 / 30 normal days'] else 'NOT met'} ({ours.false_per_30:.3f}); "
        f"best F1 of the four (Kubecost in either reading, OptScale, the FinOps toolkit's query) — "
        f"{'met' if goal['best F1 of the four'] else 'NOT met'} ({ours.f1:.3f} against {best_main[2].f1:.3f}, "
        f"{best_main[0].strip()}).", "",
        f"Against the same decomposition re-run every day on the series so far (my addition: the toolkit ships the "
        f"whole-window query) the default is {'ahead' if ours.f1 > best_extra[2].f1 else 'NOT ahead'}: "
        f"F1 {ours.f1:.3f} against {best_extra[2].f1:.3f} here, ahead on {wins_extra} of "
        f"{len(ROBUSTNESS_SEEDS)} other seeds. It trades recall for fewer false alarms; with k = 4 Apportion "
        f"scores F1 {results[1][2].f1:.3f} here and is ahead of it on {wins_k4} of {len(ROBUSTNESS_SEEDS)} other "
        "seeds — the default stays 3.5 as specified; moving it is a product decision (fewer alerts, slightly "
        "lower recall).", "",
        f"Repeats: after a level shift Apportion keeps flagging the new level until the 4-week median catches up "
        f"(≤ 3 weeks; {ours.repeat_flags / max(ours.shifts, 1):.1f} repeat flags per shift here). They are not "
        "false alarms but they are noise for a reader: the workflow should fold a scope's consecutive flags into "
        "one open anomaly.", "",
        f"Apportion by history: {ours.early_detected}/{ours.early_events} anomalies injected before day "
        f"{FULL_HISTORY} (short-history fallback, week over week) detected, "
        f"{ours.detected - ours.early_detected}/{ours.events - ours.early_events} from day {FULL_HISTORY} on "
        "(seasonal rule).", "",
        "## Sensitivity of Apportion's documented parameters (same series; defaults k = 3.5, floor = $50)", "",
        "| k \\ floor | " + " | ".join(f"${f:.0f}" for f in GRID_FLOOR) + " |",
        "|---|" + "---|" * len(GRID_FLOOR),
        *[f"| {k} | " + " | ".join(
            f"R {grid[(k, f)].recall:.2f} · FA {grid[(k, f)].false_per_30:.2f} · F1 {grid[(k, f)].f1:.2f}"
            for f in GRID_FLOOR) + " |" for k in GRID_K], "",
        "R = recall, FA = false alarms per 30 normal days. The grid is reported, not used to pick the defaults "
        "(they were fixed before the first run).", "",
        f"## Robustness: the same recipe with seeds {ROBUSTNESS_SEEDS[0]}–{ROBUSTNESS_SEEDS[-1]} ({n} series each)", "",
        "| method | recall (mean) | false alarms / 30 (mean) | F1 mean | F1 min–max "
        "| seeds where Apportion's F1 is higher |",
        "|---|---|---|---|---|---|",
        *[f"| {name} | {np.mean([s.recall for s in sc]):.3f} | {np.mean([s.false_per_30 for s in sc]):.3f} | "
          f"{np.mean([s.f1 for s in sc]):.3f} | {min(s.f1 for s in sc):.3f}–{max(s.f1 for s in sc):.3f} | "
          + ("—" if i == 0 else
             f"{sum(a.f1 > s.f1 for a, s in zip(robust[methods[0][0]], sc, strict=True))}/{len(sc)}") + " |"
          for i, (name, sc) in enumerate(robust.items())], "",
        *([] if timing is None else [
            "## Scan on a store (speed figure, same run)", "",
            f"{timing['lines']:,} cost lines over {STORE_DAYS} days (20,000 resources, 5 % on 30-day charge periods; "
            f"store generated in {float(timing['generated_s']):.1f} s, 0 = reused). scan() of all five levels for "
            f"the last 31 days (+ 56 days of history): {float(timing['scan_s']):.2f} s, {timing['flags']} flags; "
            f"the bare per-level daily sums over the same days (five GROUP BY queries, no attribution, spreading or "
            f"detection): {float(timing['bare_s']):.2f} s; ratio {float(timing['ratio']):.2f}×. Medians of "
            f"{STORE_REPEATS} alternating runs.", ""]),
        "## Methods as re-implemented (bench/bench_anomalies.py)", "",
        "- Apportion: engine.insights.anomalies.detectors.detect_matrix, exactly as the scan runs it.",
        "- Kubecost: docs.kubecost.com, Anomaly Detection (beta): an anomaly is an increase or decrease greater than "
        "the outlier threshold (a whole-number percentage) compared with the mean cost over the lookback window; "
        "the page names no default values — 7 days and 20 % are my choice.",
        "- Lookback mean ± k·std: the z-score reading of the same window test (as the issue describes Kubecost); "
        "N = 7 and k = 2 are my choice, not a published default.",
        "- OptScale: anomaly-detection policy, a day's expenses above the average daily expenses of the evaluation "
        "period by the threshold; 7 days / 30 % is the example policy in the documentation, not a stated default.",
        "- FinOps toolkit: catalog query cost-anomaly-detection.kql calls series_decompose_anomalies(CostSeries) "
        "with Kusto's defaults — threshold 1.5, seasonality auto-detected (period 7 fixed here, what detection "
        "finds on a weekly series), trend 'avg', ctukey on the 10th–90th percentiles; the score formula is my "
        "reading of series_outliers. The catalog query runs over its whole window; the indented row runs it daily.",
        "- Decreases: every method is scored on increases only.",
        "",
        "Indented rows are variants, not the published methods: they are shown, not used for 'the four'.",
    ]
    text = "\n".join(lines) + "\n"
    if write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "anomalies.md").write_text(text)
        (RESULTS / "anomalies.json").write_text(json.dumps({
            "series": n, "days": DAYS, "seed": seed, "eval_start": EVAL_START, "shift_window": SHIFT_WINDOW,
            "settle_days": SETTLE_DAYS, "apportion_params": asdict(APPORTION), "goal": goal,
            "methods": [{"name": name.strip(" *"), "parameters": params, "seconds": seconds, **s.as_dict()}
                        for name, params, s, seconds in results],
            "grid": [{"k": k, "floor": f, **s.as_dict()} for (k, f), s in grid.items()],
            "robustness": {"seeds": list(ROBUSTNESS_SEEDS),
                           "methods": {name.strip(" *"): [s.as_dict() for s in sc] for name, sc in robust.items()}},
            "store_scan": timing,
        }, indent=2))
    return text


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--series", type=int, default=N_SERIES)
    p.add_argument("--seed", type=int, default=SEED)
    p.add_argument("--lines", type=int, default=STORE_LINES, help="cost lines of the scan timing store (0 = skip)")
    args = p.parse_args(argv)
    print(run(args.series, args.seed, lines=args.lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
