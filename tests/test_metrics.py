"""The shared estimators of metrics.py: one level-crossing convention, its grid edges, the ±1 read-out, the slope."""

from __future__ import annotations

import math

import pytest
import torch

from hebbdam.memory import Exponential, Power
from hebbdam.metrics import binarise, crossing, grid_estimate, grid_side, loglog_slope


def test_crossing_interpolates_linearly_or_in_log_x():
    assert crossing([0.1, 0.2, 0.3], [1.0, 0.75, 0.25]) == pytest.approx(0.25)
    assert crossing([10, 100], [1.0, 0.0], scale="log") == pytest.approx(10**1.5)
    assert crossing([10, 100], [1.0, 0.0]) == pytest.approx(55.0)


def test_crossing_outside_the_grid_is_none_with_its_side():
    all_above, all_below = [1.0, 0.9, 0.6], [0.4, 0.2, 0.0]
    assert crossing([1, 2, 3], all_above) is None and grid_side(all_above, 0.5) == "above_grid"
    assert crossing([1, 2, 3], all_below) is None and grid_side(all_below, 0.5) == "below_grid"
    assert grid_estimate("k", None, [1, 2, 3], all_below, 0.5) == {
        "k": None,
        "k_outside": {"side": "below_grid", "load": 1, "fraction": 0.4},
    }
    assert grid_estimate("k", None, [1, 2, 3], all_above, 0.5)["k_outside"]["load"] == 3


def test_a_point_exactly_at_the_level_is_not_yet_below():
    assert crossing([1, 2, 3], [1.0, 0.5, 0.0]) == pytest.approx(2.0)  # bracket (2, 3): y = ½ at x = 2
    assert crossing([1, 2], [0.5, 0.5]) is None  # never strictly below
    assert crossing([1, 2], [0.5, 0.0]) == pytest.approx(1.0)  # the first point, at the level, is not below the grid


def test_a_non_monotone_curve_crosses_at_its_first_drop():
    assert crossing([1, 2, 3, 4], [1.0, 0.0, 1.0, 0.0]) == pytest.approx(1.5)


def test_crossing_refuses_a_bad_scale_or_lengths():
    with pytest.raises(ValueError, match="scale"):
        crossing([1, 2], [1.0, 0.0], scale="logit")
    with pytest.raises(ValueError, match="2 x values but 3"):
        crossing([1, 2], [1.0, 0.5, 0.0])


def test_binarise_sign_for_states_and_strict_threshold_for_images():
    states = torch.tensor([-0.3, 0.0, 0.2], dtype=torch.float64)
    assert binarise(states).tolist() == [-1.0, 1.0, 1.0] and binarise(states).dtype == torch.float64
    pixels = torch.tensor([0.0, 0.5, 0.75])
    assert binarise(pixels, 0.5, ties=-1.0).tolist() == [-1.0, -1.0, 1.0]


def test_loglog_slope_recovers_a_power_law():
    dims = [10.0, 20.0, 40.0, 80.0]
    assert loglog_slope(dims, [3.0 * d**1.7 for d in dims]) == pytest.approx(1.7, abs=1e-12)
    assert loglog_slope(dims, [math.exp(1.0)] * 4) == pytest.approx(0.0, abs=1e-12)


def test_only_even_plain_powers_attract_the_mirror():
    assert Power(4).attracts_mirror and Power(2).attracts_mirror
    assert not Power(4, rectified=True).attracts_mirror and not Power(3).attracts_mirror
    assert not Exponential(1.0).attracts_mirror


def test_bootstrap_best_picks_the_largest_mean_and_brackets_it():
    import torch

    from hebbdam.metrics import binary_entropy, bootstrap_best

    per_trial = [[0.1, 0.2, 0.3], [0.5, 0.6, 0.7], [0.2, 0.2, 0.2]]
    best = bootstrap_best([10, 20, 30], per_trial, 200, torch.Generator().manual_seed(0))
    assert best["at"] == 20 and best["value"] == 0.6
    assert 0.5 <= best["low"] <= 0.6 <= best["high"] <= 0.7
    assert binary_entropy(0.5) == 1.0 and binary_entropy(0.0) == 0.0 == binary_entropy(1.0)
