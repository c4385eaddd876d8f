"""The rounding guarantee, clause by clause, on hundreds of generated pool × target tables (credits and 10-decimal
amounts included), and on the closed demo months.

Every number is recomputed here from the exact amounts with Fractions (floors, ceilings, half-even bill, nearest
cents), and minimality is checked against a brute-force search over every floor/ceiling assignment of the cells
on small tables, and against an independently built min-cost flow on the demo months.
"""

from __future__ import annotations

import itertools
import math
import random
from collections import defaultdict
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import store
from engine.allocation.cascade import run_cascade
from engine.allocation.pools import load_pools
from engine.allocation.rounding import TableRounding, round_table
from engine.errors import InputError
from engine.rules import versions

Target = tuple[str, str]
Cell = tuple[str, Target]
HALF = Fraction(1, 2)

amounts = st.one_of(
    st.decimals(min_value=-500, max_value=5000, places=10, allow_nan=False, allow_infinity=False),
    st.decimals(min_value=-3, max_value=3, places=3, allow_nan=False, allow_infinity=False),
    st.sampled_from([Decimal("0.005"), Decimal("-0.005"), Decimal("0.0049999999"), Decimal("0.0050000001"),
                     Decimal("-0.0150000000"), Decimal("12.34"), Decimal(0)]),
)


@st.composite
def tables(draw: st.DrawFn, max_pools: int, max_targets: int, min_pools: int = 1, min_targets: int = 1
           ) -> dict[Cell, Decimal]:
    """A pool × target table, at least half its grid filled when it is a large one (up to 8 × 25 cells)."""
    pools = [f"p{i}" for i in range(draw(st.integers(min_pools, max_pools)))]
    targets = [("application" if j % 2 else "cost_center", f"T{j:02d}")
               for j in range(draw(st.integers(min_targets, max_targets)))]
    grid = [(p, t) for p in pools for t in targets]
    least = 1 if min_pools * min_targets == 1 else len(grid) // 2
    chosen = draw(st.lists(st.sampled_from(grid), min_size=least, max_size=len(grid), unique=True))
    return {k: draw(amounts) for k in chosen}


def cents(a: Decimal) -> Fraction:
    return Fraction(a) * 100


def exact_totals(cells: dict[Cell, Decimal]) -> tuple[dict[str, Fraction], dict[Target, Fraction], Fraction]:
    pools: dict[str, Fraction] = defaultdict(Fraction)
    targets: dict[Target, Fraction] = defaultdict(Fraction)
    for (p, t), a in cells.items():
        pools[p] += cents(a)
        targets[t] += cents(a)
    return dict(pools), dict(targets), sum(pools.values(), Fraction(0))


def within_a_cent(posted: int, exact: Fraction) -> bool:
    return math.floor(exact) <= posted <= math.ceil(exact)


def off_nearest(posted: int, exact: Fraction) -> bool:
    return abs(posted - exact) > HALF


def source_cents(cells: dict[Cell, Decimal]) -> dict[str, int]:
    """Each pool's own total in cents, half-even (what month close posts per pool)."""
    return {p: round(v) for p, v in exact_totals(cells)[0].items()}


def check_clauses(cells: dict[Cell, Decimal], r: TableRounding[Target], pool_cents: dict[str, int] | None) -> None:
    pools, targets, grand = exact_totals(cells)
    assert set(r.cells) == set(cells)
    for k, a in cells.items():  # every cell on its floor or ceiling
        assert within_a_cent(r.cells[k], cents(a)), (k, a, r.cells[k])
    by_pool: dict[str, int] = defaultdict(int)
    by_target: dict[Target, int] = defaultdict(int)
    for (p, t), c in r.cells.items():
        by_pool[p] += c
        by_target[t] += c
    assert r.pools == dict(by_pool) and r.targets == dict(by_target)  # cells add up exactly
    assert r.period == sum(r.cells.values()) == sum(r.pools.values()) == sum(r.targets.values())
    if pool_cents is None:
        assert all(within_a_cent(r.pools[p], pools[p]) for p in pools)
        assert all(within_a_cent(r.targets[t], targets[t]) for t in targets)
        assert r.period == round(grand)  # the bill: exact grand total, half-even
    else:
        assert r.pools == {p: pool_cents[p] for p in pools}
        assert r.outside == tuple(t for t in sorted(targets) if not within_a_cent(r.targets[t], targets[t]))
    assert r.off_nearest == tuple(t for t in sorted(targets) if off_nearest(r.targets[t], targets[t]))


def brute_force(cells: dict[Cell, Decimal], pool_cents: dict[str, int] | None) -> tuple[int, int]:
    """(cents beyond the targets' floor..ceil, targets off their nearest cent), lexicographically least over every
    assignment of floors and ceilings to the cells that meets the pool (and, for free pools, period) clauses."""
    pools, targets, grand = exact_totals(cells)
    floors = {k: math.floor(cents(a)) for k, a in cells.items()}
    per_pool: list[list[tuple[Cell, ...]]] = []
    for p in sorted(pools):
        mine = sorted(k for k in cells if k[0] == p)
        opened = [k for k in mine if cents(cells[k]) != floors[k]]
        base = sum(floors[k] for k in mine)
        want = {pool_cents[p]} if pool_cents is not None else {math.floor(pools[p]), math.ceil(pools[p])}
        per_pool.append([ups for n in range(len(opened) + 1) if base + n in want
                         for ups in itertools.combinations(opened, n)])
    best: tuple[int, int] | None = None
    for choice in itertools.product(*per_pool):
        ups = {k for part in choice for k in part}
        if pool_cents is None and sum(floors.values()) + len(ups) != round(grand):
            continue
        tot: dict[Target, int] = defaultdict(int)
        for k, f in floors.items():
            tot[k[1]] += f + (1 if k in ups else 0)
        beyond = sum(max(0, math.floor(targets[t]) - tot[t], tot[t] - math.ceil(targets[t])) for t in targets)
        off = sum(1 for t in targets if off_nearest(tot[t], targets[t]))
        if best is None or (beyond, off) < best:
            best = (beyond, off)
    assert best is not None, "no assignment meets the pool clauses"
    return best


def shuffled(cells: dict[Cell, Decimal], seed: int) -> dict[Cell, Decimal]:
    items = list(cells.items())
    random.Random(seed).shuffle(items)
    return dict(items)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cells=st.one_of(tables(3, 5), tables(8, 25, 2, 3)), seed=st.integers(0, 2**16))
def test_free_pools_meet_every_clause(cells: dict[Cell, Decimal], seed: int) -> None:
    r = round_table(cells)
    check_clauses(cells, r, None)
    assert r.outside == ()
    again = round_table(shuffled(cells, seed))  # same inputs in another order: the same cents
    assert again.cells == r.cells


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cells=st.one_of(tables(3, 5), tables(8, 25, 2, 3)), seed=st.integers(0, 2**16))
def test_source_pools_meet_every_clause(cells: dict[Cell, Decimal], seed: int) -> None:
    pool_cents = source_cents(cells)
    r = round_table(cells, pool_cents)
    check_clauses(cells, r, pool_cents)
    assert round_table(shuffled(cells, seed), pool_cents).cells == r.cells


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cells=st.one_of(tables(3, 4), tables(3, 4, 2, 3)))
def test_free_pools_leave_the_fewest_targets_off_their_nearest_cent(cells: dict[Cell, Decimal]) -> None:
    r = round_table(cells)
    check_clauses(cells, r, None)
    assert brute_force(cells, None) == (0, len(r.off_nearest))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cells=st.one_of(tables(3, 4), tables(3, 4, 2, 3)))
def test_source_pools_leave_the_fewest_targets_off_their_nearest_cent(cells: dict[Cell, Decimal]) -> None:
    pool_cents = source_cents(cells)
    r = round_table(cells, pool_cents)
    check_clauses(cells, r, pool_cents)
    _, targets, _ = exact_totals(cells)
    beyond = sum(max(0, math.floor(targets[t]) - c, c - math.ceil(targets[t])) for t, c in r.targets.items())
    assert brute_force(cells, pool_cents) == (beyond, len(r.off_nearest))


def test_the_period_posts_the_bill_when_pools_are_free() -> None:
    # two pools of half a cent each, one target: the bill is 0.01, each pool alone rounds (half-even) to 0.00
    cells = {("p1", ("application", "A")): Decimal("0.005"), ("p2", ("application", "A")): Decimal("0.005")}
    free = round_table(cells)
    assert free.period == 1 and free.targets == {("application", "A"): 1} and sorted(free.pools.values()) == [0, 1]
    own = round_table(cells, {"p1": 0, "p2": 0})  # each pool on its own cents: the target cannot reach its cent
    assert own.period == 0 and own.outside == (("application", "A"),)


def test_pool_cents_that_leave_a_target_no_valid_cent_still_post_every_cent() -> None:
    # A is owed exactly 0.01 by two half-cent pools that each post 0.00; C's 0.007 pool posts its 0.01 to C
    cells = {("p1", ("application", "A")): Decimal("0.005"), ("p2", ("application", "A")): Decimal("0.005"),
             ("p3", ("application", "C")): Decimal("0.007")}
    r = round_table(cells, {"p1": 0, "p2": 0, "p3": 1})
    assert r.cells == {("p1", ("application", "A")): 0, ("p2", ("application", "A")): 0,
                       ("p3", ("application", "C")): 1}
    assert r.period == 1 and r.outside == (("application", "A"),) and r.off_nearest == (("application", "A"),)
    free = round_table(cells)  # free pools: the bill is 0.017 → 0.02, and A gets its cent from one of its pools
    assert free.period == 2 and free.targets == {("application", "A"): 1, ("application", "C"): 1}
    assert free.outside == () and free.off_nearest == ()


def test_a_target_is_off_its_nearest_cent_only_when_forced() -> None:
    # one cent shared by three targets of a third of a cent each: one of them must take it
    third = Decimal(1) / 300
    cells = {("p", ("application", t)): third for t in "ABC"}
    r = round_table(cells, {"p": 1})
    assert sorted(r.targets.values()) == [0, 0, 1] and len(r.off_nearest) == 1
    assert round_table(cells, {"p": 1}).cells == r.cells


def test_pool_cents_out_of_reach_are_refused() -> None:
    cells = {("p", ("application", "A")): Decimal("1.004"), ("p", ("application", "B")): Decimal("2.003")}
    with pytest.raises(InputError, match="must post 3.10"):
        round_table(cells, {"p": 310})
    with pytest.raises(InputError, match="nothing to post it to"):
        round_table(cells, {"p": 301, "q": 5})


# ----- the closed demo months -----

def _min_off_nearest(cells: dict[Cell, Fraction], pool_cents: dict[str, int]) -> int:
    """The fewest targets off their nearest cent over every rounding with cells on floor/ceiling, pools on their
    given cents and targets on their floor/ceiling: a min-cost flow built here (lower bounds as node demands, a ±1
    cost on the one optional cent of each target), solved by capacity scaling."""
    g = nx.DiGraph()
    floors = {k: math.floor(v) for k, v in cells.items()}
    pools: dict[str, Fraction] = defaultdict(Fraction)
    targets: dict[Target, Fraction] = defaultdict(Fraction)
    tfloor: dict[Target, int] = defaultdict(int)
    pfloor: dict[str, int] = defaultdict(int)
    for (p, t), v in cells.items():
        pools[p] += v
        targets[t] += v
        tfloor[t] += floors[(p, t)]
        pfloor[p] += floors[(p, t)]
        if v != floors[(p, t)]:
            g.add_edge(("p", p), ("t", t), capacity=1, weight=0)
    supply = 0
    for p in pools:
        g.add_node(("p", p), demand=-(pool_cents[p] - pfloor[p]))
        supply += pool_cents[p] - pfloor[p]
    lower = 0
    base_off = 0
    for t, v in targets.items():
        lo = math.floor(v) - tfloor[t]
        g.add_node(("t", t), demand=lo)
        lower += lo
        if v != math.floor(v):
            frac = v - math.floor(v)
            g.add_edge(("t", t), "sink", capacity=1, weight=1 if frac < HALF else (-1 if frac > HALF else 0))
            base_off += 1 if frac > HALF else 0
    g.add_node("sink", demand=supply - lower)
    cost, _ = nx.capacity_scaling(g)
    return int(cost) + base_off


def _blocks_bound(cells: dict[Cell, Fraction], targets: dict[Target, int], pools: dict[str, int]) -> int:
    """What a user can check by hand: in each block of pools and the targets only they reach, the targets' cents add
    up to the pools' cents, so |Σ of the targets' nearest cents − Σ of the pools' cents| of them must be off."""
    g = nx.Graph()
    g.add_edges_from((("p", p), ("t", t)) for p, t in cells)
    exact: dict[Target, Fraction] = defaultdict(Fraction)
    for (_, t), v in cells.items():
        exact[t] += v
    bound = 0
    for block in nx.connected_components(g):
        nearest = sum(round(exact[n[1]]) for n in block if n[0] == "t")
        bound += abs(nearest - sum(pools[n[1]] for n in block if n[0] == "p"))
    assert sum(targets.values()) == sum(pools.values())
    return bound


def test_closed_demo_months_leave_no_target_off_its_nearest_cent_unless_forced(demo_db_path: Path) -> None:
    con = store.connect(demo_db_path, read_only=True)
    try:
        runs = con.sql("SELECT run_key, period, rule_set, rule_version, basis FROM allocation_run"
                       " WHERE status = 'posted' ORDER BY period").fetchall()
        assert len(runs) >= 3
        for key, period, name, version, basis in runs:
            rs = versions.get(con, name, version).rule_set
            data = load_pools(con, rs, period, basis)
            exact: dict[Cell, Fraction] = defaultdict(Fraction)
            for k, v in run_cascade(rs, data).items():  # the engine's own unrounded cascade
                exact[(k.source_pool, (k.target_kind, k.target_id))] += Fraction(v) * 100
            posted_cells: dict[Cell, int] = defaultdict(int)
            stored: dict[Target, Fraction] = defaultdict(Fraction)
            for pool, tk, tid, amount, cents_ in con.sql(
                    "SELECT source_pool, target_kind, target_id, sum(amount), sum(posted_amount)"
                    " FROM allocation_result WHERE run_key = ? GROUP BY ALL", params=[key]).fetchall():
                posted_cells[(pool, (tk, tid))] = int(cents_ * 100)
                stored[(tk, tid)] += Fraction(amount) * 100
            target_exact: dict[Target, Fraction] = defaultdict(Fraction)
            for (_, t), v in exact.items():
                target_exact[t] += v
            assert set(stored) == set(target_exact)  # the cascade recomputed is the table that was posted
            assert all(abs(stored[t] - target_exact[t]) < Fraction(1, 10**6) for t in stored)
            assert set(posted_cells) == set(exact)
            assert all(within_a_cent(posted_cells[k], exact[k]) for k in exact), period
            posted_targets: dict[Target, int] = defaultdict(int)
            posted_pools: dict[str, int] = defaultdict(int)
            for (p, t), c in posted_cells.items():
                posted_targets[t] += c
                posted_pools[p] += c
            pool_cents = {p: round(Fraction(v) * 100) for p, v in data.pool_totals.items()}
            assert {p: c for p, c in posted_pools.items() if c} == {p: c for p, c in pool_cents.items() if c}
            assert all(within_a_cent(posted_targets[t], v) for t, v in target_exact.items()), period
            off = sum(1 for t, v in target_exact.items() if off_nearest(posted_targets[t], v))
            forced = _min_off_nearest(exact, {p: pool_cents.get(p, 0) for p, _ in exact})
            assert _blocks_bound(exact, posted_targets, posted_pools) <= forced == off, (period, off, forced)
    finally:
        con.close()
