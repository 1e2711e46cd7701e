"""The issue's capacity and accuracy checks (basin criterion: overlap ≥ 0.95 after async relaxation from 10% flips).

The slow ones (D = 1000 relaxations, digits training) are marked ``slow``; each stays under about a minute.
"""

from __future__ import annotations

import pytest

from hebbdam.experiments import validate_rules as validate

pytestmark = pytest.mark.usefixtures("one_thread")  # small tensors: one thread is faster and steadier


def test_storkey_stores_more_than_hebb_at_the_same_dimension():
    result = validate.storkey_vs_hebb(dim=200, trials=3)
    # theory: Hebb all-stable D/(4 ln D) ≈ 9.4, Storkey ≈ D/√(2 ln D) ≈ 61
    assert result["storkey_fixed_point_capacity"] > 2 * result["hebb_fixed_point_capacity"]
    assert 5 <= result["hebb_fixed_point_capacity"] <= 20


def test_pseudo_inverse_keeps_every_pattern_a_fixed_point_up_to_load_0_9():
    for load in (0.5, 0.9):
        assert validate.pseudo_inverse_fixed_points(dim=200, load=load)["fixed_point_fraction"] == 1.0


def test_delta_rule_stores_load_1_with_every_pattern_a_fixed_point():
    assert validate.delta_fixed_points(dim=200, load=1.0, epochs=100)["fixed_point_fraction"] == 1.0


def test_dreaming_recalls_better_than_hebb_at_load_0_3():
    result = validate.dreaming_vs_hebb(dim=400, load=0.3, t=10.0)
    assert result["dreaming_retrieved_fraction"] >= 0.95
    assert result["hebb_retrieved_fraction"] <= 0.2
    assert result["dreaming_mean_overlap"] > result["hebb_mean_overlap"] + 0.3


def test_random_feature_energy_error_falls_like_one_over_root_features():
    result = validate.random_feature_slope()
    assert -0.6 <= result["slope"] <= -0.4, result


@pytest.mark.slow
def test_hebb_critical_load_at_dimension_1000():
    result = validate.hebb_critical_load(dim=1000, loads=(0.13, 0.145, 0.16, 0.175), trials=1)
    assert 0.12 <= result["critical_load"] <= 0.16, result


@pytest.mark.slow
def test_krotov_hopfield_2019_hidden_units_classify_digits():
    result = validate.krotov_hopfield_digits(units=200, epochs=60)
    assert result["test_accuracy"] >= 0.90, result
    assert result["test_accuracy"] > result["untrained_test_accuracy"] + 0.1  # the learned units, not the layer size
