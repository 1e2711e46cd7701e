"""Sparse-code and holographic memories: Willshaw's clipped write and its false-positive law (Palm 1980), the
covariance rule's threshold, BCPNN's log-odds weights and its recall against the same network without its log, the
holographic memory's retrieval at small load and its linear capacity law (Plate 1995). Each behaviour is a helper
that a planted break (an unclipped Willshaw, a BCPNN without its log, unbinding by convolution) must fail."""

from __future__ import annotations

import math

import pytest
import torch

from hebbdam.data.synthetic import modular, sparse_binary, sparse_cue
from hebbdam.experiments.sparse import holographic_accuracy
from hebbdam.memory import BCPNN, Holographic, ThresholdNetwork, Willshaw, build
from hebbdam.memory import sparse as sparse_memory
from hebbdam.rules import Rule, get_rule
from hebbdam.rules.sparse import willshaw_update


def generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# Willshaw -----------------------------------------------------------------------------------------------------------
def check_willshaw(rule: Rule) -> None:
    """Binary weights; a subset cue never loses a true unit; the false-positive rate of an inactive unit is Palm's
    p₁^|c|, p₁ = 1 − (1 − k(k−1)/(D(D−1)))^P the fraction of switched-on synapses (Willshaw et al. 1969; Palm 1980)."""
    dim, coding, count = 400, 0.02, 1200  # k = 8, p₁ ≈ 0.34
    patterns = sparse_binary(count, dim, coding, generator(1))
    cues = sparse_cue(patterns, 0.5, 0.0, generator(2))  # |c| = 4
    weights = rule.fit(patterns)
    assert bool(((weights == 0) | (weights == 1)).all()), "Willshaw synapses must be binary"
    out = Willshaw(weights).step(cues)
    assert bool((out >= patterns).all()), "a subset cue lost a stored unit"
    active = round(coding * dim)
    p1 = 1.0 - (1.0 - active * (active - 1) / (dim * (dim - 1))) ** count  # a pair of distinct units co-active
    off_diagonal = ~torch.eye(dim, dtype=torch.bool)
    assert float(weights[off_diagonal].mean()) == pytest.approx(p1, rel=0.05)
    expected = p1 ** (active // 2)
    inactive = patterns == 0
    false_positive = float(out[inactive].mean())
    assert false_positive == pytest.approx(expected, rel=0.25), (false_positive, expected)


def test_willshaw_is_binary_and_follows_palms_false_positive_law():
    check_willshaw(get_rule("willshaw"))


def test_an_unclipped_willshaw_fails():
    def unclipped(weights, patterns):  # the planted break: counts instead of clipped synapses
        return weights + patterns.T @ patterns

    with pytest.raises(AssertionError, match="binary"):
        check_willshaw(Rule(name="unclipped", locality="local", target="pairwise", update=unclipped))


def test_willshaw_rule_is_local_and_registered_with_its_memory_kind():
    rule = get_rule("willshaw")
    assert rule.locality == "local" and rule.target == "pairwise"
    x = sparse_binary(5, 20, 0.2, generator())
    assert isinstance(build("willshaw", rule.fit(x), 20), Willshaw)
    assert torch.equal(willshaw_update(torch.zeros(20, 20), x), (x.T @ x).clamp(max=1))


# covariance with threshold ------------------------------------------------------------------------------------------
def test_covariance_threshold_is_the_midpoint_and_recalls_at_small_load():
    dim, coding = 400, 0.05
    patterns = sparse_binary(20, dim, coding, generator(3))
    cues = sparse_cue(patterns, 0.5, 0.0, generator(4))
    weights = get_rule("covariance", mean=coding).fit(patterns)
    network = build("threshold", weights, dim, {"coding": coding})
    assert isinstance(network, ThresholdNetwork)
    size = cues.sum(1, keepdim=True).double()
    assert torch.allclose(network.threshold(cues), (1 - coding) * (0.5 - coding) * size / dim)
    assert bool((network.step(cues) == patterns).all())
    # the mean fields of active and inactive units sit symmetrically about the threshold
    fields = cues.double() @ weights.double()
    margin_on = float(fields[patterns == 1].mean()) - float(network.threshold(cues).mean())
    margin_off = float(network.threshold(cues).mean()) - float(fields[patterns == 0].mean())
    assert margin_on == pytest.approx(margin_off, rel=0.2)


# BCPNN ------------------------------------------------------------------------------------------------------------
def test_bcpnn_weights_are_log_odds_of_the_estimated_probabilities():
    x = modular(50, 4, 5, generator(5))
    counts = get_rule("bcpnn").fit(x)
    weights, bias = sparse_memory.bcpnn_parameters(counts, 1e-4)
    p = x.double().mean(0).clamp(min=1e-4)
    pij = (x.double().T @ x.double() / 50).clamp(min=1e-8)
    assert torch.allclose(weights.double(), (pij / torch.outer(p, p)).log(), atol=1e-5)
    assert torch.allclose(bias.double(), p.log(), atol=1e-6)
    assert float(counts[0, 0]) == 50


def bcpnn_recall() -> float:
    """Fraction of 100 modular patterns (H = 40 hypercolumns of M = 10) recalled exactly from half of their units."""
    patterns = modular(100, 40, 10, generator(6))
    cues = sparse_cue(patterns, 0.5, 0.0, generator(7))
    memory = build("bcpnn", get_rule("bcpnn").fit(patterns), 400, {"hypercolumns": 40})
    return float((memory.winners(cues) == patterns).all(1).double().mean())


def test_bcpnn_completes_half_patterns_and_without_its_log_it_fails(monkeypatch):
    assert bcpnn_recall() >= 0.95
    log_odds = sparse_memory.bcpnn_parameters

    def without_log(counts, floor):  # the planted break: ratios and probabilities instead of their logs
        return tuple(t.exp() for t in log_odds(counts, floor))

    monkeypatch.setattr(sparse_memory, "bcpnn_parameters", without_log)
    assert bcpnn_recall() < 0.8


def test_bcpnn_soft_winner_take_all_is_normalised_per_hypercolumn():
    x = modular(10, 3, 4, generator(8))
    memory = build("bcpnn", get_rule("bcpnn").fit(x), 12, {"hypercolumns": 3, "gain": 2.0})
    assert isinstance(memory, BCPNN)
    soft = memory.step(x).view(10, 3, 4)
    assert torch.allclose(soft.sum(2), torch.ones(10, 3))
    assert torch.equal(memory.winners(x).view(10, 3, 4).argmax(2), soft.argmax(2))


# holographic --------------------------------------------------------------------------------------------------------
def test_circular_correlation_inverts_binding_on_average():
    a = torch.randn(1, 1024, generator=generator(9), dtype=torch.float64) / 32
    b = torch.randn(1, 1024, generator=generator(10), dtype=torch.float64) / 32
    decoded = sparse_memory.circular_correlation(a, sparse_memory.circular_convolution(a, b))
    assert float(torch.nn.functional.cosine_similarity(decoded, b)) > 0.6


def test_holographic_retrieves_at_small_load_and_capacity_grows_linearly_with_d():
    assert holographic_accuracy(512, 5, 1000, generator(11)) == 1.0
    # K at 90% accuracy doubles with D (Plate 1995): at the same K/D the accuracy is about the same
    small = sum(holographic_accuracy(256, 12, 1000, generator(s)) for s in range(8)) / 8
    large = sum(holographic_accuracy(1024, 48, 1000, generator(s)) for s in range(8)) / 8
    assert abs(small - large) < 0.08 and 0.6 < small < 1.0
    # and at the same K the larger D retrieves better
    assert sum(holographic_accuracy(1024, 12, 1000, generator(s)) for s in range(4)) / 4 > small + 0.05


def test_unbinding_by_convolution_fails(monkeypatch):
    monkeypatch.setattr(  # the planted break: the binding operator used as its own inverse
        sparse_memory, "circular_correlation", lambda a, t: sparse_memory.circular_convolution(a, t)
    )
    assert holographic_accuracy(512, 5, 1000, generator(11)) < 0.5


def test_holographic_kind_cleans_up_against_its_items():
    items = torch.randn(20, 64, generator=generator(12), dtype=torch.float64) / 8
    trace = get_rule("holographic").fit(torch.cat([items[:2], items[2:4]], dim=1))
    memory = build("holographic", trace, 64, {"items": items})
    assert isinstance(memory, Holographic)
    assert torch.equal(memory.recall_index(items[:2]), torch.tensor([2, 3]))
    assert math.isfinite(float(memory.energy(items[:2]).sum()))
