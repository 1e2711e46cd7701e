"""Energies and fields of the binary memories, and the Lyapunov property of asynchronous dynamics."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hebbdam.data.synthetic import flip_bits, rademacher
from hebbdam.dynamics import asynchronous_sweep, relax, sweep_order
from hebbdam.memory import DenseAM, Exponential, Hopfield, Power, sign_keep

SEPARATIONS = [
    Power(2),
    Power(3),
    Power(4),
    Power(3, rectified=True),
    Power(5, rectified=True),
    Exponential(8.0),
]


def random_symmetric(dim: int, generator: torch.Generator) -> torch.Tensor:
    w = torch.randn(dim, dim, generator=generator, dtype=torch.float64)
    return ((w + w.T) / 2).fill_diagonal_(0.0)


@settings(max_examples=30, deadline=None)
@given(dim=st.integers(2, 30), batch=st.integers(1, 8), seed=st.integers(0, 2**31 - 1))
def test_asynchronous_updates_never_raise_hopfield_energy(dim, batch, seed):
    g = torch.Generator().manual_seed(seed)
    memory = Hopfield(random_symmetric(dim, g))
    states = rademacher(batch, dim, g).double()
    trace = relax(memory, states, mode="async", max_sweeps=20, generator=g, trace_energy=True).energy
    assert (trace[1:] <= trace[:-1] + 1e-9).all()


@pytest.mark.parametrize("separation", SEPARATIONS, ids=lambda s: s.name)
@settings(max_examples=15, deadline=None)
@given(dim=st.integers(4, 24), count=st.integers(1, 40), seed=st.integers(0, 2**31 - 1))
def test_asynchronous_updates_never_raise_dense_energy(separation, dim, count, seed):
    g = torch.Generator().manual_seed(seed)
    memory = DenseAM(rademacher(count, dim, g).double(), separation)
    states = rademacher(6, dim, g).double()
    trace = relax(memory, states, mode="async", max_sweeps=20, generator=g, trace_energy=True).energy
    assert (trace[1:] <= trace[:-1] + 1e-9 * trace.abs().max()).all()


@pytest.mark.parametrize("separation", SEPARATIONS[:5], ids=lambda s: s.name)
@settings(max_examples=15, deadline=None)
@given(dim=st.integers(2, 16), count=st.integers(1, 30), seed=st.integers(0, 2**31 - 1))
def test_dense_field_is_the_exact_energy_difference(separation, dim, count, seed):
    """field_i = E(σ_i = -1) - E(σ_i = +1), by the two-matmul formula, for every neuron; field_at has its sign."""
    g = torch.Generator().manual_seed(seed)
    memory = DenseAM(rademacher(count, dim, g).double(), separation)
    states = rademacher(5, dim, g).double()
    plus, minus = states.clone(), states.clone()
    brute = torch.empty_like(states)
    for i in range(dim):  # reference by brute force: the loop is the test's, not the library's
        plus[:, i], minus[:, i] = 1.0, -1.0
        brute[:, i] = memory.energy(minus) - memory.energy(plus)
        plus[:, i], minus[:, i] = states[:, i], states[:, i]
    assert torch.allclose(memory.field(states), brute, rtol=1e-9, atol=1e-9)
    index = torch.randint(0, dim, (5,), generator=g)
    single = memory.field_at(memory.cache(states), states, index)
    expected = brute.gather(1, index[:, None])[:, 0]
    # field_at may carry a positive per-state factor (powers are evaluated on raw overlaps: a factor Dⁿ)
    assert torch.equal(torch.sign(single), torch.sign(expected.round(decimals=9)))


@pytest.mark.parametrize("model", ["hopfield", "dense"])
def test_vectorised_sweep_equals_sequential_reference(model):
    """The batched sweep (cache kept current per flip) equals a plain per-state, per-neuron loop in the same order.

    Integer Hebbian weights and D = 32 keep every field exact in float64, so ties (field = 0, keep) match too.
    """
    g = torch.Generator().manual_seed(3)
    patterns = rademacher(12, 32, g).double()
    memory = Hopfield((patterns.T @ patterns).fill_diagonal_(0)) if model == "hopfield" else DenseAM(patterns, Power(3))
    states = flip_bits(patterns[:6], 0.3, g)
    swept = asynchronous_sweep(memory, states, torch.Generator().manual_seed(9))
    order = sweep_order(memory, 6, torch.Generator().manual_seed(9))
    reference = states.clone()
    for b in range(6):
        for i in order[b].tolist():
            field = memory.field(reference[b : b + 1])[0, i]
            reference[b, i] = sign_keep(field, reference[b, i])
    assert torch.equal(swept, reference)


def test_stored_patterns_are_fixed_points_at_low_load():
    g = torch.Generator().manual_seed(4)
    patterns = rademacher(5, 200, g)
    memory = Hopfield((patterns.T @ patterns / 200).fill_diagonal_(0))
    result = relax(memory, patterns, mode="async", generator=g)
    assert torch.equal(result.states, patterns) and result.converged.all() and (result.sweeps == 1).all()


def test_exponential_dam_field_stays_finite_at_large_dimension():
    g = torch.Generator().manual_seed(5)
    memory = DenseAM(rademacher(50, 1000, g), Exponential(beta=1000.0))
    states = rademacher(4, 1000, g)
    assert torch.isfinite(memory.field(states)).all()
    assert torch.isfinite(memory.field_at(memory.cache(states), states, torch.zeros(4, dtype=torch.long))).all()


@pytest.mark.parametrize("model", ["hopfield", "dense"])
def test_sweep_leaves_its_input_alone_and_holds_clamped_neurons(model):
    g = torch.Generator().manual_seed(6)
    patterns = rademacher(20, 40, g).double()
    memory = (
        Hopfield((patterns.T @ patterns / 40).fill_diagonal_(0)) if model == "hopfield" else DenseAM(patterns, Power(3))
    )
    states = rademacher(8, 40, g).double()
    before = states.clone()
    clamped = torch.zeros(40, dtype=torch.bool)
    clamped[:10] = True
    swept = asynchronous_sweep(memory, states, g, clamped)
    assert torch.equal(states, before)
    assert torch.equal(swept[:, :10], before[:, :10]) and not torch.equal(swept, before)


@settings(max_examples=30, deadline=None)
@given(dim=st.integers(2, 30), batch=st.integers(1, 8), seed=st.integers(0, 2**31 - 1))
def test_asynchronous_updates_never_raise_hopfield_energy_with_thresholds(dim, batch, seed):
    """E = -½σᵀWσ + θᵀσ is a Lyapunov function of σ_i ← sgn(Σ_j W_ij σ_j - θ_i), for any θ (D,)."""
    g = torch.Generator().manual_seed(seed)
    theta = torch.randn(dim, generator=g, dtype=torch.float64)
    memory = Hopfield(random_symmetric(dim, g), threshold=theta)
    states = rademacher(batch, dim, g).double()
    trace = relax(memory, states, mode="async", max_sweeps=20, generator=g, trace_energy=True).energy
    assert (trace[1:] <= trace[:-1] + 1e-9).all()


@settings(max_examples=20, deadline=None)
@given(dim=st.integers(2, 150), batch=st.integers(1, 5), seed=st.integers(0, 2**31 - 1))
def test_threshold_sweep_and_step_match_the_neuron_by_neuron_rule(dim, batch, seed):
    """The blocked asynchronous sweep and the synchronous step apply sgn(h_i - θ_i), ties kept, as the plain loop."""
    g = torch.Generator().manual_seed(seed)
    theta = torch.randint(-2, 3, (dim,), generator=g).double()  # integers: exact ties h_i = θ_i occur
    weights = torch.randint(-2, 3, (dim, dim), generator=g).double()
    memory = Hopfield(((weights + weights.T) / 2).fill_diagonal_(0.0), threshold=theta)
    states = rademacher(batch, dim, g).double()
    order_generator = torch.Generator().manual_seed(seed)
    order = sweep_order(memory, batch, torch.Generator().manual_seed(seed))[0]
    expected = states.clone()
    for i in order.tolist():  # reference: the loop is the test's, not the library's
        expected[:, i] = sign_keep(expected @ memory.weights[i] - theta[i], expected[:, i])
    torch.testing.assert_close(asynchronous_sweep(memory, states, order_generator), expected, rtol=0, atol=0)
    torch.testing.assert_close(memory.step(states), sign_keep(states @ memory.weights.T - theta, states))
