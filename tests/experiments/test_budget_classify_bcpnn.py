"""E8c's BCPNN hidden layer: its weights are the log-odds of the traces, its activity a distribution per hidden
hypercolumn, its features carry the class on digits, and a K that does not fill whole hypercolumns is refused."""

from __future__ import annotations

import math

import pytest
import torch

from hebbdam.config import ConfigError, load_params
from hebbdam.experiments import budget_classify as e8c
from hebbdam.rules.bayesian_hidden import bayesian_weights

from ..conftest import compose_file

DIGITS = [
    "budget.classify.dataset=digits",
    "budget.classify.units=[20]",
    "budget.classify.delta_readout.epochs=5",
    "budget.classify.top_layer.epochs=5",
]


def test_bcpnn_weights_are_the_log_odds_of_co_activation_and_the_bias_the_log_prior():
    """Independent units get w = 0, a pair twice as often co-active as chance log 2, one never co-active the floor;
    the bias is log p_j. A BCPNN without its log (the planted break) fails the first two."""
    p_i = torch.tensor([0.5, 0.2])
    p_j = torch.tensor([0.4, 0.1])
    p_ij = torch.tensor([[0.2, 0.1], [0.0, 0.02]])  # (0,0) independent, (0,1) twice chance, (1,0) never
    weights, bias = bayesian_weights(p_i, p_j, p_ij, floor=1e-4)
    assert weights[0, 0] == pytest.approx(0.0, abs=1e-6)
    assert weights[0, 1] == pytest.approx(math.log(2.0), rel=1e-5)
    assert weights[1, 1] == pytest.approx(0.0, abs=1e-6)
    assert weights[1, 0] == pytest.approx(math.log(1e-8 / (0.2 * 0.4)), rel=1e-5)
    assert torch.allclose(bias, p_j.log())
    masked, _ = bayesian_weights(p_i, p_j, p_ij, 1e-4, mask=torch.tensor([[1.0, 0.0], [1.0, 1.0]]))
    assert masked[0, 1] == 0.0 and masked[1, 0] == weights[1, 0]


@pytest.fixture(scope="module")
def digits(tmp_path_factory, prepared):
    params = compose_file(tmp_path_factory.mktemp("bcpnn") / "params.yaml", [*DIGITS, f"data.root={prepared}"])
    settings = e8c.parse_settings(load_params(params))
    return settings, e8c.load_splits(settings)


def test_bcpnn_activity_is_a_soft_winner_take_all_and_its_features_carry_the_class(digits):
    """Each hidden hypercolumn's activity sums to 1, every receptive field covers the configured share of pixels,
    and a readout on the learned units classifies held-out digits far above chance (10 classes: 0.9 error)."""
    settings, (train, val, test, classes) = digits
    layer = e8c.bcpnn_layer(20, train, seed=3, settings=settings)
    activity = layer.activity(test.images)
    columns = settings.bcpnn.minicolumns
    sums = activity.view(activity.shape[0], 20 // columns, columns).sum(2)
    assert torch.allclose(sums, torch.ones_like(sums), atol=1e-5)
    fields = (layer.weights != 0).double()[: train.images.shape[1]]  # (D, K): the pixel units' connections
    assert fields.sum(0).max() <= round(settings.bcpnn.connectivity * train.images.shape[1])
    splits = (train, val, test)
    errors = e8c.trained_readouts([layer.activity(s.images) for s in splits], splits, classes, 3, settings)
    assert errors["top_layer"]["test_error"] < 0.6


def test_a_k_that_does_not_fill_whole_hypercolumns_is_refused(tmp_path):
    params = compose_file(tmp_path / "params.yaml", [*DIGITS, "budget.classify.bcpnn.minicolumns=7"])
    with pytest.raises(ConfigError, match="budget.classify.bcpnn.minicolumns"):
        e8c.parse_settings(load_params(params))
