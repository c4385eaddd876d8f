"""A 20-series slice of bench/bench_anomalies.py in the suite: a correctness check of the detector on labelled
series (fixed seed), not a speed check."""

from __future__ import annotations

from bench.bench_anomalies import SEED, apportion, evaluate, synthesize
from engine.insights.anomalies.detectors import DEFAULT_PARAMS


def test_apportion_finds_the_injected_anomalies_without_crying_wolf() -> None:
    data = synthesize(20, SEED)
    score = evaluate(apportion(DEFAULT_PARAMS)(data.x), data)
    assert score.events >= 20                       # the slice holds enough spikes and shifts to mean something
    assert score.recall >= 0.8
    assert score.false_per_30 <= 0.3


def test_the_slice_is_the_same_every_run() -> None:
    a, b = synthesize(20, SEED), synthesize(20, SEED)
    assert (a.x == b.x).all() and a.spikes == b.spikes and a.shifts == b.shifts
