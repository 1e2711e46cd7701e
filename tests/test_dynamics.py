"""dynamics.py: vectorised async = per-neuron loop, gradient descent, masks, clamping, rollouts, streaming."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hebbdam.bench import reference_async_sweep
from hebbdam.dynamics import (
    asynchronous_sweep,
    field_sweep,
    incremental_sweep,
    iterate,
    probability_flow,
    relax,
    rollout,
    sweep_order,
)
from hebbdam.memory import (
    Amari,
    DenseAM,
    Exponential,
    GaussianDAM,
    Hopfield,
    ModernHopfield,
    NeuronAstrocyte,
    Power,
    RandomFeatureDAM,
    SequenceMemory,
)


def bipolar(rows, dim, gen, dtype=torch.float64):
    return (torch.randint(0, 2, (rows, dim), generator=gen) * 2 - 1).to(dtype)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), dim=st.integers(4, 20), count=st.integers(1, 12))
def test_vectorised_async_sweep_equals_the_per_neuron_loop(seed, dim, count):
    gen = torch.Generator().manual_seed(seed)
    patterns, states = bipolar(count, dim, gen), bipolar(6, dim, gen)
    symmetric = torch.randn(dim, dim, generator=gen, dtype=torch.float64)
    symmetric = (symmetric + symmetric.T).fill_diagonal_(0.0)
    models = [
        Hopfield(symmetric),  # Gaussian weights: no field is ever exactly 0, so rounding cannot decide a tie
        DenseAM(patterns, Power(3)),
        DenseAM(patterns, Exponential(float(dim))),
        DenseAM(patterns * 0.75 + 0.25, Power(2)),  # real-valued memories (exact binary fractions: no drift)
        Amari(patterns, zero_diagonal=True),
        NeuronAstrocyte(patterns),
    ]
    for model in models:
        fast = asynchronous_sweep(model, states, torch.Generator().manual_seed(seed))
        order = sweep_order(model, 6, torch.Generator().manual_seed(seed))
        assert torch.equal(fast, reference_async_sweep(model, states, order)), type(model).__name__


def field_sweep_models(patterns, gen):
    """Every memory with exact synchronous fields: dense powers (plain, rectified) and pairwise Hopfield networks."""
    dim = patterns.shape[1]
    hebbian = (patterns.T @ patterns / dim).fill_diagonal_(0.0).float()  # K / D: integer fields, many exact ties
    gaussian = torch.randn(dim, dim, generator=gen, dtype=torch.float64)
    models = [DenseAM(patterns, Power(n, rectified)) for n in (2, 3, 4, 5) for rectified in (False, True)]
    return models + [Hopfield(hebbian), Hopfield(hebbian, 1.0 / dim), Hopfield((gaussian + gaussian.T).float())]


def check_field_sweep(seed: int, dim: int, count: int, noise: float) -> int:
    """Flip to flip on exact synchronous fields = neuron by neuron on the cache: the same float64 states, bit for bit,
    from noisy copies of stored patterns, with and without clamped neurons. Returns the zero fields (ties) met."""
    gen = torch.Generator().manual_seed(seed)
    patterns = bipolar(count, dim, gen)
    starts = patterns[torch.randint(count, (24,), generator=gen)]
    starts = torch.where(torch.rand(starts.shape, generator=gen) < noise, -starts, starts)
    clamped = torch.rand(dim, generator=gen) < 0.2
    ties = 0
    for model in field_sweep_models(patterns, gen):
        fields = model.sweep_fields(starts)
        assert fields is not None and fields.dtype == torch.float64, type(model).__name__
        ties += int((fields == 0).sum())
        order = sweep_order(model, 24, torch.Generator().manual_seed(seed))
        for mask in (None, clamped):
            reference = incremental_sweep(model, starts, order, mask)
            fast = field_sweep(model, starts, order, model.sweep_fields(starts), mask)
            assert torch.equal(fast, reference), (type(model).__name__, getattr(model, "separation", None))
            assert torch.equal(asynchronous_sweep(model, starts, torch.Generator().manual_seed(seed), mask), reference)
    return ties


@settings(max_examples=8, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1), dim=st.integers(4, 40), count=st.integers(1, 30), noise=st.sampled_from([0.1, 0.5])
)
def test_field_sweep_equals_the_per_neuron_sweep_exactly(seed, dim, count, noise):
    check_field_sweep(seed, dim, count, noise)


def test_field_sweep_equals_the_per_neuron_sweep_on_exact_ties():
    """Even D and P: many fields are exactly 0 (kept by sign_keep), and the two sweeps still agree bit for bit."""
    assert check_field_sweep(seed=1, dim=12, count=8, noise=0.5) > 0


def test_field_sweep_relaxation_matches_the_per_neuron_reference_across_sweeps():
    """Whole relaxations on the ladder's heavy kind of point (dense x⁴, 10% flipped probes): the same final states and
    sweep counts as the from-scratch per-neuron reference applied sweep by sweep with the same orders."""
    gen = torch.Generator().manual_seed(3)
    patterns = bipolar(96, 12, gen)
    probes = torch.where(torch.rand(patterns.shape, generator=gen) < 0.1, -patterns, patterns)
    model = DenseAM(patterns, Power(4))
    assert model.sweep_fields(probes) is not None
    result = relax(model, probes, "async", 30, torch.Generator().manual_seed(5))
    orders, states = torch.Generator().manual_seed(5), probes.clone()
    for sweep in range(int(result.sweeps.max())):
        active = (result.sweeps > sweep).nonzero()[:, 0]
        states[active] = reference_async_sweep(model, states[active], sweep_order(model, len(active), orders))
    assert torch.equal(states, result.states)


def test_converged_mask_and_sweeps_are_per_sample():
    gen = torch.Generator().manual_seed(0)
    patterns = bipolar(3, 50, gen)
    memory = DenseAM(patterns, Power(3))
    probes = patterns.clone()
    probes[1, :5] *= -1
    probes[2, :10] *= -1
    result = relax(memory, probes, mode="sync", max_sweeps=10)
    assert torch.equal(result.states, patterns)
    assert result.converged.all()
    assert result.sweeps.tolist() == [1, 2, 2]  # a stored pattern is unchanged by its first step
    capped = relax(memory, probes, mode="sync", max_sweeps=1)
    assert capped.converged.tolist() == [True, False, False]


def test_clamped_neurons_never_change():
    gen = torch.Generator().manual_seed(1)
    patterns = bipolar(4, 40, gen)
    memory = DenseAM(patterns, Power(3))
    clamped = torch.zeros(40, dtype=torch.bool)
    clamped[:8] = True
    start = bipolar(16, 40, gen)
    for mode in ("async", "sync"):
        result = relax(memory, start, mode=mode, generator=gen, clamped=clamped)
        assert torch.equal(result.states[:, :8], start[:, :8]), mode
    # classification by clamping: clamp half of a stored pattern, the free half completes it
    probe = patterns.clone()
    probe[:, 20:] = bipolar(4, 20, gen)
    half = torch.arange(40) < 20
    assert torch.equal(relax(memory, probe, mode="async", generator=gen, clamped=half).states, patterns)


def test_gradient_descent_lowers_continuous_energies_monotonically():
    gen = torch.Generator().manual_seed(2)
    memories = torch.randn(20, 16, generator=gen, dtype=torch.float64)
    start = memories[:5] + 0.3 * torch.randn(5, 16, generator=gen, dtype=torch.float64)
    for memory in (
        ModernHopfield(memories, beta=2.0),
        GaussianDAM(memories, beta=1.0),
        RandomFeatureDAM(16, 2048, 1.0, torch.Generator().manual_seed(0), dtype=torch.float64).write(memories),
    ):
        result = relax(memory, start, mode="gradient", lr=0.05, max_sweeps=40, trace_energy=True, tol=1e-8)
        assert bool((result.energy[1:] <= result.energy[:-1] + 1e-10).all()), type(memory).__name__
        assert bool((result.energy[-1] < result.energy[0]).all())
    # the exact slot model descends to the stored memory it started near
    exact = relax(GaussianDAM(memories, 4.0), start, mode="gradient", lr=0.5, max_sweeps=100, tol=1e-10)
    assert exact.converged.all()
    torch.testing.assert_close(exact.states, memories[:5], atol=1e-3, rtol=0)


def test_gradient_mode_respects_clamping_and_freezes_converged_samples():
    gen = torch.Generator().manual_seed(3)
    memories = torch.randn(10, 8, generator=gen, dtype=torch.float64)
    start = torch.cat([memories[:1], memories[1:2] + 0.5])
    memory = GaussianDAM(memories, beta=8.0)
    clamped = torch.zeros(8, dtype=torch.bool)
    clamped[0] = True
    result = relax(memory, start, mode="gradient", lr=0.1, max_sweeps=50, clamped=clamped)
    assert torch.equal(result.states[:, 0], start[:, 0])
    assert result.sweeps[0] < result.sweeps[1]


def test_energy_trace_has_one_row_per_sweep():
    gen = torch.Generator().manual_seed(4)
    patterns = bipolar(5, 30, gen)
    result = relax(DenseAM(patterns, Power(2)), bipolar(7, 30, gen), mode="async", generator=gen, trace_energy=True)
    assert result.energy.shape == (int(result.sweeps.max()) + 1, 7)


def test_rollout_shape_and_clamping():
    gen = torch.Generator().manual_seed(5)
    patterns = bipolar(6, 40, gen, torch.float32)
    model = SequenceMemory(patterns, "polynomial", degree=2, symmetric=0.0)
    trajectory = rollout(model, patterns[:2], 7)
    assert trajectory.shape == (8, 2, 40)
    assert torch.equal(trajectory[3, 1], patterns[4])
    clamped = torch.arange(40) < 5
    held = rollout(model, patterns[:1], 3, clamped=clamped)
    assert torch.equal(held[:, 0, :5], patterns[:1, :5].expand(4, 5))


def test_iterate_applies_the_step_that_many_times_and_keeps_the_graph():
    start = torch.tensor([[1.0, -2.0]], requires_grad=True)
    out = iterate(lambda s: 3.0 * s + 1.0, start, 3)  # s → 27 s + 13
    torch.testing.assert_close(out, 27.0 * start.detach() + 13.0)
    (grad,) = torch.autograd.grad(out.sum(), start)
    torch.testing.assert_close(grad, torch.full((1, 2), 27.0))
    assert iterate(lambda s: s + 1.0, start, 0) is start


def test_probability_flow_carries_gaussian_data_from_noise_to_a_sample():
    """Data N(0, 1): the optimal denoiser is D(x; σ) = x / (1 + σ²) and the ODE's exact flow keeps x / √(1 + σ²)
    constant, so Euler steps down a fine schedule from σ = 80 end at D(noise · √(1 + σ_min²); σ_min) ≈ noise."""
    noise = torch.randn(5, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    levels = [80.0 * (0.002 / 80.0) ** (i / 2000) for i in range(2001)]
    out = probability_flow(lambda x, sigma: x / (1 + sigma**2), noise, levels)
    torch.testing.assert_close(out, noise, atol=0.02, rtol=0.02)
