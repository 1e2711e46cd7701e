"""Exact fields of ±1 models: a true tie is exactly 0 and every field is independent of summation order.

A field that does not depend on the order of its sums does not depend on the CPU's vector width or thread count
either: permuting the stored patterns (which reorders every sum) must give bit-identical fields. Before the exact
paths, a float32 Hebbian field Σ_j fl(K_ij / D) σ_j of an integer tie came out as ±1e-8.
"""

from __future__ import annotations

import pytest
import torch

from hebbdam.dynamics import relax
from hebbdam.memory import DenseAM, Exponential, Hopfield, Power, SequenceMemory
from hebbdam.memory.exponential import exponential_field
from hebbdam.rules import get_rule


def bipolar(rows: int, dim: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 2, (rows, dim), generator=generator).float() * 2 - 1


def hebb_counts(patterns: torch.Tensor) -> torch.Tensor:
    """The integer K = Σ_μ ξ_μ ξ_μᵀ with zero diagonal, in float64 (exact)."""
    x = patterns.double()
    return (x.T @ x).fill_diagonal_(0.0)


@pytest.mark.parametrize("dim", [11, 31, 101])
def test_hebbian_ties_are_exactly_zero_and_keep_the_state(dim):
    """At odd D many Hebbian fields Σ_j K_ij σ_j are exactly 0; the model's field is 0 exactly there (and nowhere
    else), and one step keeps those neurons."""
    patterns, states = bipolar(3, dim, 0), bipolar(200, dim, 1)  # K_ij ∈ {±1, ±3}: fl(3/D) ≠ 3 fl(1/D)
    memory = Hopfield(get_rule("hebb").fit(patterns))
    assert memory.exact
    integer = states.double() @ hebb_counts(patterns).T
    assert int((integer == 0).sum()) > 0, "no tie to test"
    field = memory.field(states)
    assert torch.equal(field == 0, integer == 0)
    assert torch.equal(torch.sign(field).double(), torch.sign(integer))
    stepped = memory.step(states)
    assert torch.equal(stepped[integer == 0], states[integer == 0])


def test_the_rounded_weights_alone_would_break_ties():
    """What the exact units fix: the exact sum of the stored float32 weights fl(K_ij / D) (the old asynchronous field)
    is not 0 at most integer ties (D = 101, K_ij ∈ {±1, ±3}: fl(3/D) ≠ 3 fl(1/D))."""
    patterns, states = bipolar(3, 101, 0), bipolar(200, 101, 1)
    weights = get_rule("hebb").fit(patterns)
    ties = states.double() @ hebb_counts(patterns).T == 0
    stored_sum = states.double() @ weights.double().T
    assert int((stored_sum[ties] != 0).sum()) > int(ties.sum()) // 2
    assert bool((Hopfield(weights).field(states)[ties] == 0).all())


def test_hebbian_weights_do_not_depend_on_the_batches():
    """W = fl(K / D) whatever the batch split: the integers are summed first and divided once."""
    patterns = bipolar(50, 30, 2)
    one_shot = get_rule("hebb").fit(patterns)
    assert torch.equal(one_shot, get_rule("hebb").fit(patterns, batch_size=7))
    assert torch.equal(one_shot, (hebb_counts(patterns) / 30).float())


def test_asynchronous_relaxation_uses_the_same_exact_fields():
    """A tie never flips: relaxation from a stored pattern set with ties ends where the exact fields say."""
    patterns = bipolar(6, 40, 3)
    memory = Hopfield(get_rule("hebb").fit(patterns))
    final = relax(memory, patterns, mode="async", generator=torch.Generator().manual_seed(0)).states
    integer = final.double() @ hebb_counts(patterns).T
    assert bool((integer * final.double() >= 0).all())  # every neuron agrees with its field or is tied


@pytest.mark.parametrize(
    "build",
    [
        lambda x: Hopfield(get_rule("hebb").fit(x)),
        lambda x: Hopfield(get_rule("covariance", mean=0.3).fit(x), -0.3 * (1 - 0.09)),
        lambda x: DenseAM(x, Power(3)),
        lambda x: DenseAM(x, Power(4, rectified=True)),
        lambda x: DenseAM(x, Exponential(8.0)),
        lambda x: SequenceMemory(x, "polynomial", degree=2),
        lambda x: SequenceMemory(x, "exponential"),
    ],
    ids=["hebb", "covariance", "dam3", "rectified4", "exponential", "sequence2", "sequence_exp"],
)
def test_fields_do_not_depend_on_summation_order(build):
    """Reordering the stored patterns reorders every sum; the fields stay bit-identical (sequences: the cyclic order
    is the model, so the rows rotate, which reorders the sums and keeps the transitions)."""
    patterns, states = bipolar(24, 16, 4), bipolar(64, 16, 5)
    memory = build(patterns)
    if isinstance(memory, SequenceMemory):
        reordered = build(torch.roll(patterns, 5, dims=0))
    else:
        reordered = build(patterns[torch.randperm(24, generator=torch.Generator().manual_seed(6))])
    assert torch.equal(memory.field(states), reordered.field(states))


def brute_coefficients(states, sources, targets) -> dict:
    """N[b][i] = {k: Σ_μ T_μi [o_μ - ξ_μi σ_i = k]} by loops (integers)."""
    overlaps = (states @ sources.T).long()
    table = {}
    for b in range(states.shape[0]):
        for i in range(states.shape[1]):
            counts: dict[int, int] = {}
            for mu in range(sources.shape[0]):
                k = int(overlaps[b, mu] - sources[mu, i] * states[b, i])
                counts[k] = counts.get(k, 0) + int(targets[mu, i])
            table[b, i] = counts
    return table


@pytest.mark.parametrize(("dim", "count"), [(4, 2), (4, 6), (5, 4)])
def test_exponential_ties_are_exactly_zero(dim, count):
    """Σ_k N_k e^{βk} = 0 exactly iff every integer coefficient N_k is 0 (e^β is transcendental): at small D such ties
    are common; the field is 0 exactly there, and elsewhere has the sign of the exact sum."""
    sources, states = bipolar(count, dim, 10), bipolar(16, dim, 20)
    targets = torch.roll(sources, -1, dims=0)
    field = exponential_field(states, sources, targets, 1.0)
    coefficients = brute_coefficients(states, sources, targets)
    ties = 0
    for (b, i), counts in coefficients.items():
        exact = sum(n * torch.tensor(float(k)).double().exp() for k, n in counts.items())
        if all(n == 0 for n in counts.values()):
            ties += 1
            assert float(field[b, i]) == 0.0
        else:
            assert float(field[b, i]) != 0.0 and (float(field[b, i]) > 0) == (float(exact) > 0)
    assert ties > 0, "no tie to test"
