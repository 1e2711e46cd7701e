"""Learning rules: registry and labels, exact identities against naive formulas, small-size behaviour."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hebbdam.data.synthetic import rademacher
from hebbdam.experiments.validate_rules import fixed_point_fraction
from hebbdam.memory import DenseAM, Hopfield, Power
from hebbdam.memory.astrocyte import tensor4_memories
from hebbdam.rules import RuleTargetError, check_target, get_rule, rule_defaults, rule_names
from hebbdam.rules.dense import (
    feature_energy,
    fourier_features,
    gaussian_slot_energy,
    tensor4_dense,
    tensor4_energy,
    tensor4_field,
)
from hebbdam.rules.hidden import competing_update
from hebbdam.rules.pairwise import dreaming_weights, pseudo_inverse_weights, sleep

EXPECTED = {
    "hebb": ("local", "pairwise"),
    "covariance": ("local", "pairwise"),
    "storkey": ("local", "pairwise"),
    "pseudo_inverse": ("nonlocal", "pairwise"),
    "dreaming": ("nonlocal", "pairwise"),
    "dreaming_sleep": ("local", "pairwise"),
    "delta": ("local", "pairwise"),
    "oja": ("local", "hidden"),
    "krotov_hopfield": ("local", "hidden"),
    "slot": ("local", "slots"),
    "random_features": ("local", "features"),
    "tensor4": ("local", "tensor4"),
    "quadruplets": ("local", "quadruplets"),
    "simplicial": ("local", "simplices"),
    "delta_readout": ("local", "readout"),
    "prototype": ("local", "hidden"),
    "pseudo_inverse_slots": ("nonlocal", "slots"),
    "willshaw": ("local", "pairwise"),
    "bcpnn": ("local", "coactivity"),
    "holographic": ("local", "trace"),
}


def patterns(count, dim, seed=0):
    return rademacher(count, dim, torch.Generator().manual_seed(seed))


def test_every_rule_is_registered_with_its_locality_and_target():
    assert sorted(EXPECTED) == rule_names()
    for name, (locality, target) in EXPECTED.items():
        rule = get_rule(name)
        assert (rule.name, rule.locality, rule.target) == (name, locality, target)


def test_unknown_rule_and_unknown_hyper_parameter_are_named():
    with pytest.raises(KeyError, match="rule: expected one of .*got 'nope'"):
        get_rule("nope")
    with pytest.raises(ValueError, match="rule storkey: unknown hyper-parameter t"):
        get_rule("storkey", t=1.0)
    with pytest.raises(ValueError, match="rule dreaming: unknown hyper-parameter tt; expected t"):
        get_rule("dreaming", tt=1.0)
    assert rule_defaults("dreaming") == {"t": 10.0}


def test_a_rule_on_a_memory_it_cannot_train_names_both():
    dam = DenseAM(patterns(5, 20), Power(3))
    with pytest.raises(RuleTargetError, match=r"rule storkey \(local; trains pairwise weights W.*cannot train DenseAM"):
        check_target(get_rule("storkey"), dam)
    with pytest.raises(RuleTargetError, match=r"rule slot .*cannot train Hopfield"):
        check_target(get_rule("slot"), Hopfield(torch.zeros(20, 20)))
    with pytest.raises(RuleTargetError, match="rule pseudo_inverse .*cannot train memory dense \\(a DAM memory matrix"):
        check_target(get_rule("pseudo_inverse"), "dense")
    check_target(get_rule("krotov_hopfield"), dam)  # hidden units are DAM memories: no error
    check_target(get_rule("hebb"), "hopfield")


def test_hebb_and_covariance():
    x = patterns(7, 12)
    w = get_rule("hebb").fit(x)
    expected = x.T @ x / 12
    expected.fill_diagonal_(0)
    torch.testing.assert_close(w, expected)
    # the covariance rule removes a known mean; with mean 0 it is Hebb, in any batching
    torch.testing.assert_close(get_rule("covariance", mean=0.0).fit(x, batch_size=3), expected)
    biased = torch.where(torch.rand(50, 12, generator=torch.Generator().manual_seed(1)) < 0.8, 1.0, -1.0)
    cov = get_rule("covariance").fit(biased)
    centred = biased - biased.mean(0)
    torch.testing.assert_close(cov, (centred.T @ centred / 12).fill_diagonal_(0))


def storkey_naive(weights, xi):
    dim = len(xi)
    h = [[sum(weights[i, k] * xi[k] for k in range(dim) if k not in (i, j)) for j in range(dim)] for i in range(dim)]
    new = weights.clone()
    for i in range(dim):
        for j in range(dim):
            new[i, j] += (xi[i] * xi[j] - xi[i] * h[j][i] - h[i][j] * xi[j]) / dim
    return new.fill_diagonal_(0)


@settings(max_examples=15, deadline=None)
@given(st.integers(3, 7), st.integers(1, 4), st.integers(0, 10_000))
def test_storkey_equals_the_naive_formula(dim, count, seed):
    x = patterns(count, dim, seed).double()
    expected = torch.zeros(dim, dim, dtype=torch.float64)
    for xi in x:
        expected = storkey_naive(expected, xi)
    torch.testing.assert_close(get_rule("storkey").fit(x, batch_size=2), expected)


@settings(max_examples=15, deadline=None)
@given(st.integers(8, 30), st.floats(0.1, 0.9), st.integers(1, 8), st.integers(0, 10_000))
def test_incremental_pseudo_inverse_equals_the_closed_form(dim, load, batch, seed):
    x = patterns(max(1, round(load * dim)), dim, seed)
    closed = pseudo_inverse_weights(x).fill_diagonal_(0)
    torch.testing.assert_close(get_rule("pseudo_inverse").fit(x, batch_size=batch), closed, atol=1e-4, rtol=1e-4)


def test_pseudo_inverse_ignores_a_repeated_pattern():
    x = patterns(10, 30)
    repeated = torch.cat([x, x[:3]])
    torch.testing.assert_close(
        get_rule("pseudo_inverse").fit(repeated, batch_size=4), get_rule("pseudo_inverse").fit(x)
    )


def test_dreaming_closed_form_matches_the_papers_formula_and_its_limits():
    x = patterns(12, 40).double()
    dim = 40
    c = x @ x.T / dim
    for t in (0.0, 1.0, 10.0):
        paper = x.T @ ((1 + t) * torch.linalg.inv(torch.eye(12, dtype=x.dtype) + t * c)) @ x / dim
        torch.testing.assert_close(dreaming_weights(x.T @ x / dim, t), paper)
    # t = 0 is Hebb; t → ∞ is the pseudo-inverse projector
    torch.testing.assert_close(get_rule("dreaming", t=0.0).fit(x), get_rule("hebb").fit(x))
    torch.testing.assert_close(dreaming_weights(x.T @ x / dim, 1e7), pseudo_inverse_weights(x), atol=1e-5, rtol=0)


def test_sleep_dynamics_reach_the_closed_form():
    x = patterns(30, 60).double()
    k = x.T @ x / 60
    closed = dreaming_weights(k, 10.0)
    coarse = (sleep(k, 10.0, 100) - closed).abs().max()
    fine = (sleep(k, 10.0, 1000) - closed).abs().max()
    assert fine < 5e-3
    assert fine < coarse / 5  # Euler: error falls like 1/steps


def test_delta_rule_makes_every_pattern_a_fixed_point_where_hebb_fails():
    x = patterns(60, 100)  # α = 0.6, far above Hebb's capacity
    assert fixed_point_fraction(get_rule("hebb").fit(x), x) < 0.5
    weights = get_rule("delta", margin=1.0).fit(x, epochs=60)
    assert fixed_point_fraction(weights, x) == 1.0
    assert bool((torch.diagonal(weights) == 0).all())
    counts = (weights.double() * 100).round()  # W = (lr / D) K with lr = 1, D = 100: the margin in exact units
    assert bool(((x.double() @ counts.T) * x).min() >= 100)  # the margin is met, not only the sign


def test_oja_finds_the_first_principal_direction_with_unit_norm():
    generator = torch.Generator().manual_seed(0)
    axis = torch.nn.functional.normalize(torch.tensor([3.0, 1.0, -2.0, 0.5]), dim=0)
    data = torch.randn(4000, 1, generator=generator) * 3 * axis + 0.3 * torch.randn(4000, 4, generator=generator)
    w = get_rule("oja", lr=0.02).fit(data, epochs=3, batch_size=20, generator=torch.Generator().manual_seed(1))
    assert w.shape == (1, 4)
    assert abs(float(w.norm()) - 1.0) < 0.02
    assert abs(float(w[0] @ axis)) > 0.995


def test_competing_units_step_is_hebbian_for_the_winner_and_anti_hebbian_for_the_ranked_unit():
    weights = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    v = torch.tensor([[2.0, 0.1]])  # unit 0 wins, unit 2 second, unit 1 last
    new = competing_update(weights, v, lr=0.1, p=2.0, rank=2, anti=0.4)
    moved = new - weights
    assert float(moved[1].abs().max()) == 0.0  # neither first nor ranked: untouched
    assert float(moved[0] @ (v[0] - weights[0])) > 0  # winner moves towards the input
    assert float(moved[2] @ v[0]) < 0  # the ranked unit is pushed away
    assert float(moved.abs().max()) == pytest.approx(0.1)  # the step is normalised by its largest entry


def test_competing_units_converge_to_unit_lebesgue_norm():
    x = torch.rand(400, 10, generator=torch.Generator().manual_seed(0))
    rule = get_rule("krotov_hopfield", units=4, p=3.0, rank=2, lr=0.05)
    w = rule.fit(x, epochs=60, batch_size=20, generator=torch.Generator().manual_seed(0))
    norms = w.abs().pow(3).sum(1).pow(1 / 3)
    initial = rule.initial(10, torch.Generator().manual_seed(0)).abs().pow(3).sum(1).pow(1 / 3)
    assert int(((norms - 1).abs() < 0.01).sum()) >= 3  # units that win sit at ‖w‖_p = 1 (a loser may never move)
    assert int(((initial - 1).abs() < 0.01).sum()) == 0


def test_tensor4_factored_contraction_equals_the_full_tensor():
    x = patterns(5, 6)
    factors = get_rule("tensor4").fit(x, batch_size=2)
    full = tensor4_dense(factors)
    expected_full = torch.einsum("pi,pj,pk,pl->ijkl", x, x, x, x) / 6**3
    torch.testing.assert_close(full, expected_full)
    s = patterns(3, 6, seed=1)
    torch.testing.assert_close(tensor4_field(factors, s), torch.einsum("ijkl,bj,bk,bl->bi", full, s, s, s))
    torch.testing.assert_close(
        tensor4_energy(factors, s), -0.25 * torch.einsum("ijkl,bi,bj,bk,bl->b", full, s, s, s, s)
    )
    # the same memory as a DenseAM with F = x⁴: energies proportional (factor D/4)
    dam = DenseAM(tensor4_memories(factors), Power(4))
    torch.testing.assert_close(tensor4_energy(factors, s), dam.energy(s) * 6 / 4)


def test_random_features_approximate_the_gaussian_kernel_and_write_additively():
    x = patterns(4, 10).double()
    phi = fourier_features(x, 20000, 0.1, seed=3)
    kernel = torch.exp(-0.05 * torch.cdist(x, x).pow(2))
    assert float((phi @ phi.T - kernel).abs().max()) < 0.05
    rule = get_rule("random_features", features=2000, beta=0.1, seed=3)
    tensor = rule.fit(x.float(), batch_size=1)
    torch.testing.assert_close(tensor, fourier_features(x.float(), 2000, 0.1, 3).sum(0), atol=1e-4, rtol=1e-4)
    approx = feature_energy(rule.fit(x), x, 2000, 0.1, 3)
    assert float((approx - gaussian_slot_energy(x, x, 0.1)).abs().max()) < 0.5
    with pytest.raises(ValueError, match="features: expected an even number"):
        get_rule("random_features", features=7)


def test_hyper_parameter_errors_name_the_key():
    with pytest.raises(ValueError, match="lr, margin"):
        get_rule("delta", lr=-1.0)
    with pytest.raises(ValueError, match="t, steps"):
        get_rule("dreaming_sleep", steps=0)
    assert math.isclose(get_rule("dreaming", t=3.0).hyper["t"], 3.0)


def test_the_engines_other_memories_are_matched_to_their_targets():
    from hebbdam.memory import GaussianDAM, NeuronAstrocyte

    x = patterns(4, 8)
    check_target(get_rule("slot"), GaussianDAM(x))
    check_target(get_rule("tensor4"), NeuronAstrocyte(x))
    with pytest.raises(RuleTargetError, match="rule hebb .*cannot train NeuronAstrocyte"):
        check_target(get_rule("hebb"), NeuronAstrocyte(x))
