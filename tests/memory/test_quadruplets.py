"""The 4th-order memory on M random quadruplets (its field is the energy difference of a flip: test_simplicial.py,
its one-size case): it equals the dense tensor restricted to those quadruplets, and its Hebbian rule writes the sum
of pattern products through Lightning."""

from __future__ import annotations

import itertools

import torch

from hebbdam.data.synthetic import rademacher
from hebbdam.lit import store
from hebbdam.memory import QuadrupletMemory
from hebbdam.memory.quadruplets import random_quadruplets
from hebbdam.rules import get_rule


def _states(count, dim, seed):
    return rademacher(count, dim, torch.Generator().manual_seed(seed)).double()


def test_equals_the_dense_tensor_on_its_quadruplets():
    dim, count = 6, 15  # every 4-subset of 6 neurons once: the full symmetric 4th-order tensor
    indices = torch.tensor(list(itertools.combinations(range(dim), 4)))
    patterns = _states(5, dim, 4)
    couplings = patterns[:, indices].prod(-1).sum(0)
    tensor = torch.einsum("pi,pj,pk,pl->ijkl", patterns, patterns, patterns, patterns)
    distinct = torch.zeros(dim, dim, dim, dim, dtype=torch.bool)
    for q in itertools.permutations(range(dim), 4):
        distinct[q] = True
    states = _states(8, dim, 5)
    dense_energy = -torch.einsum("ijkl,bi,bj,bk,bl->b", tensor * distinct, states, states, states, states) / 24
    memory = QuadrupletMemory(indices, couplings, dim)
    assert memory.budget == count
    torch.testing.assert_close(memory.energy(states), dense_energy)


def test_hebbian_rule_through_lightning_writes_the_pattern_products():
    dim, count = 20, 300
    patterns = rademacher(12, dim, torch.Generator().manual_seed(6))
    rule = get_rule("quadruplets", count=count, seed=9)
    memory = store(patterns, rule, batch_size=5, memory="quadruplets").memory()
    indices = random_quadruplets(dim, count, 9)
    assert isinstance(memory, QuadrupletMemory) and memory.budget == count
    assert bool((indices.sort(1).values.diff(dim=1) > 0).all())  # four distinct neurons per quadruplet
    torch.testing.assert_close(memory.couplings, patterns[:, indices].prod(-1).sum(0))
    alone = store(patterns[:1], rule).memory()  # one stored pattern: h_i = ξ_i · (quadruplets through i)
    assert bool((alone.step(patterns[:1]) == patterns[:1]).all())
