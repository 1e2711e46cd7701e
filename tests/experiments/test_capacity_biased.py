"""E1 on biased patterns: the covariance rule's threshold θ (Amit, Gutfreund & Sompolinsky 1987) and what it buys."""

from __future__ import annotations

import pytest
import torch
import yaml

from hebbdam import references as ref
from hebbdam.config import Params
from hebbdam.experiments.capacity import arm_threshold, measure_point, parse_settings
from hebbdam.rules import get_rule


@pytest.mark.parametrize("mean", [-0.6, -0.3, 0.0, 0.3, 0.6])
def test_threshold_is_the_midpoint_of_the_two_signal_levels(mean):
    """One stored pattern of mean exactly a: the covariance field is h_i = (ξ_i - a)(1 - a² - (1 - aξ_i)/D) (zero
    diagonal), two levels whose midpoint is θ + 2a/D, and (h_i - θ) ξ_i = (1 - a²) - (1 - aξ_i)²/D: the same
    margin on both sides up to O(1/D)."""
    dim = 200
    ones = round((1 + mean) / 2 * dim)
    pattern = torch.cat([torch.ones(ones), -torch.ones(dim - ones)])[None].double()
    assert float(pattern.mean()) == pytest.approx(mean)
    weights = get_rule("covariance", mean=mean).fit(pattern)
    field = (pattern @ weights.T)[0]
    plus, minus = field[pattern[0] > 0], field[pattern[0] < 0]
    if mean:  # both levels are present
        assert torch.allclose(plus, plus[0]) and torch.allclose(minus, minus[0])
        midpoint = float(plus[0] + minus[0]) / 2
        assert midpoint == pytest.approx(ref.covariance_threshold(mean) + 2 * mean / dim, abs=1e-12)
    theta = ref.covariance_threshold(mean)
    assert theta == pytest.approx(-mean * (1 - mean**2))
    symmetric = (field - theta) * pattern[0]
    torch.testing.assert_close(symmetric, (1 - mean**2) - (1 - mean * pattern[0]) ** 2 / dim, rtol=0, atol=1e-12)


@pytest.fixture
def biased_arms(compose_params):
    settings = parse_settings(Params(yaml.safe_load(compose_params().read_text())), "capacity")
    arms = {arm.name: arm for arm in settings.arms if arm.bias}
    assert set(arms) == {"hebb_biased", "covariance_centred_biased", "covariance_biased"}
    return settings, arms


def test_biased_arms_use_the_published_threshold(biased_arms):
    _, arms = biased_arms
    a = arms["covariance_biased"].bias
    assert arm_threshold(arms["covariance_biased"]) == ref.covariance_threshold(a) == pytest.approx(-a * (1 - a * a))
    assert arm_threshold(arms["covariance_centred_biased"]) == 0.0
    assert arm_threshold(arms["hebb_biased"]) == 0.0


def test_threshold_restores_retrieval_that_hebb_and_centring_lose(biased_arms, one_thread):
    """a = 0.3, D = 200, α = 0.12 (below the unbiased 0.138): with θ the covariance rule retrieves most (≈ 0.9) of
    the patterns; the same rule at θ = 0 and plain Hebb lose most of them (critical loads ≈ 0.1 and ≈ 0.06)."""
    settings, arms = biased_arms
    retrieved = {name: measure_point(arm, 200, 0.12, settings)["retrieved"] for name, arm in arms.items()}
    assert retrieved["covariance_biased"] >= 0.8
    assert retrieved["covariance_centred_biased"] < 0.5
    assert retrieved["hebb_biased"] < 0.5
