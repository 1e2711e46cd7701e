"""Simplicial Hopfield networks (Burns & Fukai 2023): the energy never rises under asynchronous updates; with every
2-simplex and nothing else the network is the pairwise Hebbian Hopfield net exactly; at the pairwise net's number of
connections a mix of edges and triangles recalls more random patterns than the pairwise net (the paper's direction);
the Hebbian rule writes the pattern products through Lightning; the budget is split exactly and simplices are
distinct."""

from __future__ import annotations

import math

import pytest
import torch

from hebbdam.data.synthetic import flip_bits, rademacher
from hebbdam.dynamics import relax
from hebbdam.lit import store
from hebbdam.memory import Hopfield, QuadrupletMemory, SimplicialMemory
from hebbdam.memory.quadruplets import random_quadruplets
from hebbdam.memory.simplicial import random_complex, split_budget
from hebbdam.rules import get_rule
from hebbdam.rules.dense import simplex_write


def _states(count, dim, seed):
    return rademacher(count, dim, torch.Generator().manual_seed(seed)).double()


def _hebbian(patterns, orders, shares, count, seed=0):
    """The simplicial memory written by the Hebbian rule on a complex of ``count`` simplices (no Lightning)."""
    dim = patterns.shape[1]
    indices = random_complex(dim, count, seed, tuple(orders), tuple(shares))
    couplings = simplex_write(indices, torch.zeros(count, dtype=torch.float64), patterns)
    return SimplicialMemory(indices, couplings, dim)


@pytest.mark.parametrize("kind", ["simplicial", "quadruplets"])
def test_field_is_half_the_energy_cost_of_flipping_each_neuron(kind):
    """h_i = (E(s with s_i = -1) - E(s with s_i = +1)) / 2 for every neuron, on mixed sizes and on the quadruplet
    memory (the one-size case, k = 4)."""
    dim = 9
    if kind == "simplicial":
        indices = random_complex(dim, 70, 3, (2, 3, 4), (0.2, 0.5, 0.3))
    else:
        indices = random_quadruplets(dim, 70, 3)
    couplings = torch.randn(70, generator=torch.Generator().manual_seed(1)).double()
    memory = (SimplicialMemory if kind == "simplicial" else QuadrupletMemory)(indices, couplings, dim)
    states = _states(6, dim, 2)
    field = memory.field(states)
    for i in range(dim):
        plus, minus = states.clone(), states.clone()
        plus[:, i], minus[:, i] = 1.0, -1.0
        torch.testing.assert_close(field[:, i], (memory.energy(minus) - memory.energy(plus)) / 2)


def test_energy_never_rises_under_asynchronous_updates():
    dim = 24
    patterns = _states(12, dim, 3)  # far past capacity: many flips before the states settle
    memory = _hebbian(patterns, (2, 3, 4), (0.4, 0.4, 0.2), 600)
    starts = _states(32, dim, 4)
    trace = relax(
        memory, starts, mode="async", max_sweeps=30, generator=torch.Generator().manual_seed(5), trace_energy=True
    )
    assert bool(trace.converged.all())
    steps = trace.energy.diff(dim=0)
    assert bool((steps <= 0).all()) and bool((steps < 0).any())  # it did descend, and never climbed
    final = trace.states
    assert bool((final * memory.field(final) >= 0).all())  # every converged state is a local minimum


def test_all_two_simplices_equal_the_pairwise_hebbian_hopfield_net():
    dim = 14
    patterns = rademacher(5, dim, torch.Generator().manual_seed(7))
    rule = get_rule("simplicial", count=math.comb(dim, 2), seed=2, orders=[2], shares=[1.0])
    simplicial = store(patterns, rule, batch_size=2, memory="simplicial").memory()
    hopfield = store(patterns, get_rule("hebb")).memory()
    assert isinstance(simplicial, SimplicialMemory) and isinstance(hopfield, Hopfield)
    states = _states(40, dim, 8)
    torch.testing.assert_close(simplicial.energy(states) / dim, hopfield.energy(states), rtol=0, atol=1e-12)
    torch.testing.assert_close(simplicial.field(states) / dim, hopfield.field(states).double(), rtol=0, atol=1e-12)
    cues = flip_bits(patterns.double(), 0.3, torch.Generator().manual_seed(9))
    same = [relax(m, cues, mode="sync", max_sweeps=10).states for m in (simplicial, hopfield)]
    assert torch.equal(same[0], same[1].double())


def recall_fraction(orders, shares, dim=40, count=10, trials=12, flip=0.1):
    """Fraction of ``count`` random patterns recalled exactly from ``flip``·D flipped bits by synchronous
    relaxation, on M = D(D-1)/2 simplices (the pairwise net's connection count), over ``trials`` draws."""
    budget, recalled = math.comb(dim, 2), 0.0
    for trial in range(trials):
        generator = torch.Generator().manual_seed(100 + trial)
        patterns = rademacher(count, dim, generator).double()
        memory = _hebbian(patterns, orders, shares, budget, seed=trial)
        final = relax(memory, flip_bits(patterns, flip, generator), mode="sync", max_sweeps=20).states
        recalled += float((final == patterns).all(dim=1).double().mean())
    return recalled / trials


def test_mixed_simplices_recall_more_than_pairwise_at_equal_connections():
    """Burns & Fukai: at the pairwise net's number of connections, a random mix with setwise simplices stores more
    (direction only). Here D = 40, P = 10 (load 0.25, past the pairwise net's 0.14): pairwise 0.29, edges and
    triangles half and half 0.63, triangles alone 0.74 (these 12 trials)."""
    pairwise = recall_fraction((2,), (1.0,))
    mixed = recall_fraction((2, 3), (0.5, 0.5))
    triangles = recall_fraction((3,), (1.0,))
    assert mixed > pairwise + 0.1 and triangles > mixed


def test_budget_split_is_exact_and_simplices_are_distinct():
    assert split_budget(101, (0.5, 0.25, 0.25)) == [50, 25, 26]
    indices = random_complex(12, 250, 1, (2, 3, 4), (0.2, 0.3, 0.5))
    sizes = (indices < 12).sum(dim=1)
    assert [int((sizes == k).sum()) for k in (2, 3, 4)] == [50, 75, 125]
    assert len({tuple(row) for row in indices.tolist()}) == 250
    assert bool((indices[sizes == 2][:, 2:] == 12).all())  # padded with the ghost neuron
    assert torch.equal(random_complex(12, 250, 1, (2, 3, 4), (0.2, 0.3, 0.5)), indices)  # fixed by its seed
    with pytest.raises(ValueError, match="exceed"):
        random_complex(6, 16, 0, (2,), (1.0,))  # C(6, 2) = 15
    with pytest.raises(ValueError, match="shares"):
        get_rule("simplicial", orders=[2, 3], shares=[0.5, 0.4])
