"""Capacity and the ladder read their arms' memories as kinds of the memory registry: no model list of their own
decides a cost or a memory estimate (``settings.capacity.Arm.kind``, ``memory.registry.MemoryKind.pairwise``)."""

from __future__ import annotations

from hebbdam.config import load_params
from hebbdam.experiments.capacity import parse_settings, point_cost
from hebbdam.memory import get_kind, kind_names
from hebbdam.settings.capacity import MODELS

SECTIONS = ("capacity", "ladder.pairwise", "ladder.dense", "ladder.backprop")


def test_every_arm_is_a_registry_kind_and_costs_by_its_storage(compose_params):
    params = load_params(compose_params())
    arms = [arm for section in SECTIONS for arm in parse_settings(params, section).arms]
    assert {arm.model for arm in arms} == set(MODELS), "the laptop configs no longer cover every capacity model"
    for arm in arms:
        assert arm.kind in kind_names(), arm.name
        dim, load = 50, 0.2  # 10 patterns
        expected = 10 * dim * dim if get_kind(arm.kind).pairwise else 10 * 10 * dim
        assert point_cost((arm, dim, load, None)) == expected, arm.name
    backprop = next(arm for arm in arms if arm.model == "backprop")
    assert get_kind(backprop.kind).pairwise, "a backprop arm trains a pairwise W (lit.backprop.PairwiseWeights)"
