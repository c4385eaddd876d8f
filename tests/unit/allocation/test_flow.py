"""The min-cost flow adapter over OR-tools (engine/allocation/flow.py): cheapest flows, named nodes, parallel arcs,
and the two ways a network has no flow."""

from __future__ import annotations

import pytest

from engine.allocation.flow import Network, Unfeasible
from engine.errors import AllocationError


def test_cheapest_of_two_paths_is_taken_up_to_its_capacity() -> None:
    g = Network()
    g.node(("s",), demand=-3)
    g.node(("t",), demand=3)
    cheap = g.arc(("s",), "mid", 2, 1)
    onward = g.arc("mid", ("t",), 5, 1)
    dear = g.arc(("s",), ("t",), 5, 10)
    flows = g.solve()
    assert (flows[cheap], flows[onward], flows[dear]) == (2, 2, 1)


def test_parallel_arcs_and_negative_costs() -> None:
    g = Network()
    g.node("a", demand=-2)
    g.node("b", demand=2)
    reward = g.arc("a", "b", 1, -5)
    penalty = g.arc("a", "b", 3, 7)
    assert [g.solve()[i] for i in (reward, penalty)] == [1, 1]


def test_demands_that_do_not_balance_or_cannot_be_met_are_unfeasible() -> None:
    g = Network()
    g.node("a", demand=-2)
    g.node("b", demand=1)
    g.arc("a", "b", 5, 1)
    with pytest.raises(Unfeasible):
        g.solve()
    h = Network()
    h.node("a", demand=-2)
    h.node("b", demand=2)
    h.arc("a", "b", 1, 1)   # capacity 1 < 2 needed
    with pytest.raises(Unfeasible):
        h.solve()
    assert issubclass(Unfeasible, AllocationError)   # one error root


def test_a_network_with_no_arcs_solves_only_when_nothing_is_demanded() -> None:
    assert Network().solve() == []
    g = Network()
    g.node("a", demand=0)
    assert g.solve() == []
