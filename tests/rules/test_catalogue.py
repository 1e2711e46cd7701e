"""hebbdam.settings.catalogue (what the torch-free settings check arms against) says what the registries build:
every rule's locality, target and default hyper-parameters, every memory kind's accepted targets and parameter
count, and the names of the UHN similarities, separations and mixer feature maps."""

from __future__ import annotations

import inspect

import pytest
import torch

from hebbdam.memory import registry
from hebbdam.memory.mixers import FEATURE_MAPS
from hebbdam.memory.universal import SEPARATIONS, SIMILARITIES
from hebbdam.rules import base, get_rule, rule_defaults, rule_names
from hebbdam.settings import catalogue


def test_every_registered_rule_is_in_the_catalogue_as_it_is_built():
    assert catalogue.rule_names() == rule_names()
    for name in rule_names():
        rule, info = get_rule(name), catalogue.RULES[name]
        assert (info.locality, info.target) == (rule.locality, rule.target), name
        assert info.defaults == rule_defaults(name), name
        factory = inspect.signature(base._REGISTRY[name]).parameters
        assert list(info.defaults) == [p for p in factory if p != "hyper"], name


def test_every_memory_kind_is_in_the_catalogue_as_it_is_registered():
    assert sorted(catalogue.KIND_ACCEPTS) == registry.kind_names() == sorted(catalogue.KIND_PARAMETERS)
    for name in registry.kind_names():
        kind = registry.get_kind(name)
        assert catalogue.KIND_ACCEPTS[name] == kind.accepts, name
        for dim, size in ((7, 3), (100, 40), (784, 1000)):
            assert catalogue.parameter_count(name, dim, size) == kind.parameters(dim, size), name
        assert catalogue.is_pairwise(name) == kind.pairwise, name


def test_a_pairwise_kind_holds_d_squared_numbers_whatever_it_stores():
    """What capacity's cost order and memory check read from ``pairwise``: D² numbers, not one row per pattern."""
    pairwise = [name for name in registry.kind_names() if registry.get_kind(name).pairwise]
    assert "hopfield" in pairwise and "dense" not in pairwise and "softmax" not in pairwise
    for name in pairwise:
        assert {registry.get_kind(name).parameters(100, size) for size in (1, 40, 1000)} == {100 * 100}, name


def test_the_memory_names_the_settings_offer_are_the_memory_modules_names():
    assert tuple(SIMILARITIES) == catalogue.UHN_SIMILARITIES
    assert catalogue.UHN_SEPARATIONS == SEPARATIONS
    assert catalogue.FEATURE_MAPS == FEATURE_MAPS


@pytest.mark.parametrize(
    ("name", "hyper", "message"),
    [
        ("dreaming", {"t": -1.0}, "t: expected a dreaming time"),
        ("krotov_hopfield", {"p": 1.5}, "units, p, rank"),
        ("random_features", {"features": 3}, "features: expected an even number"),
        ("storkey", {"t": 1.0}, "rule storkey: unknown hyper-parameter t; expected none"),
    ],
)
def test_get_rule_and_the_catalogue_refuse_the_same_values(name, hyper, message):
    with pytest.raises(ValueError, match=message):
        catalogue.RULES[name].checked(hyper)
    with pytest.raises(ValueError, match=message):
        get_rule(name, **hyper)


def test_the_rules_that_write_keyed_slots_are_those_whose_slots_are_not_the_patterns():
    """``keyed``: among the slot rules, exactly those whose state is not the patterns written (pseudo-inverse
    slots write the dual basis; a plain slot write keeps the patterns); a name outside the catalogue is not keyed."""
    patterns = torch.where(torch.rand(5, 40, generator=torch.Generator().manual_seed(0)) > 0.5, 1.0, -1.0)
    for name, info in catalogue.RULES.items():
        if info.target == "slots":
            state = get_rule(name).fit(patterns)
            assert catalogue.is_keyed(name) == (not torch.equal(state, patterns)), name
    assert not catalogue.is_keyed("backprop")


def test_the_rules_with_normed_units_learn_units_near_their_p_sphere():
    """``normed_units``: a hidden-unit rule with a ``p`` whose trained winners sit near ‖W_μ‖_p = 1, started far
    from it (init_std 3: p-norms ≈ 3·D^{1/3}); a name outside the catalogue has none."""
    from hebbdam.experiments.budget_patterns import unit_norms

    generator = torch.Generator().manual_seed(1)
    patterns = torch.where(torch.rand(200, 32, generator=generator) > 0.5, 1.0, -1.0)
    normed = [name for name, info in catalogue.RULES.items() if info.normed_units]
    assert normed and not catalogue.has_normed_units("backprop")
    for name in normed:
        assert catalogue.RULES[name].target == "hidden" and "p" in catalogue.RULES[name].defaults, name
        rule, p = get_rule(name, units=8, init_std=3.0, lr=0.2), float(catalogue.RULES[name].defaults["p"])
        start = rule.initial(32, torch.Generator().manual_seed(2))
        units = rule.fit(patterns, epochs=30, batch_size=20, generator=torch.Generator().manual_seed(2))
        assert unit_norms(start, p, patterns)["gap_mean"] > 1.0 > 0.02 > unit_norms(units, p, patterns)["gap_mean"]


def test_a_kind_that_holds_rows_costs_k_times_d_and_a_pairwise_or_feature_kind_does_not():
    """``holds_rows`` (budget_patterns' keep-K baseline): K rows of D numbers, M = K·D at every D and K; the
    pairwise, feature and coupling kinds are not (their M is D², 2Y or M)."""
    rows = [name for name in registry.kind_names() if catalogue.holds_rows(name)]
    assert "dense" in rows and "softmax" in rows
    for name in registry.kind_names():
        costs_rows = all(catalogue.parameter_count(name, dim, k) == k * dim for dim, k in ((7, 3), (100, 40)))
        assert catalogue.holds_rows(name) == costs_rows, name
