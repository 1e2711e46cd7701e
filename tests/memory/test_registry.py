"""The memory registry: rule ↔ memory compatibility comes from the rule's ``target`` and the kind's ``accepts``."""

from __future__ import annotations

import pytest
import torch

from hebbdam.lit import store
from hebbdam.memory import (
    TARGETS,
    DenseAM,
    Hopfield,
    Power,
    build,
    default_kind,
    get_kind,
    kind_names,
    kind_of,
    kinds_accepting,
)
from hebbdam.memory.registry import NOT_MEMORIES
from hebbdam.rules import RuleTargetError, check_target, get_rule, rule_names


def patterns(count: int, dim: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 2, (count, dim), generator=torch.Generator().manual_seed(seed)).float() * 2 - 1


def test_every_registered_rule_target_has_a_memory_kind():
    for name in rule_names():
        target = get_rule(name).target
        if target in NOT_MEMORIES:
            continue
        assert kinds_accepting(target), f"rule {name} writes {target}: no memory kind accepts it"
        assert target in get_kind(default_kind(target)).accepts


def test_every_target_is_declared_and_every_kind_names_its_classes():
    for name in kind_names():
        kind = get_kind(name)
        assert set(kind.accepts) <= set(TARGETS) and kind.classes
    assert set(TARGETS) == {t for n in kind_names() for t in get_kind(n).accepts} | set(NOT_MEMORIES)


def test_an_incompatible_pair_is_refused_in_one_line():
    with pytest.raises(RuleTargetError) as caught:
        check_target(get_rule("slot"), "hopfield")
    assert "\n" not in str(caught.value) and "rule slot" in str(caught.value) and "memory hopfield" in str(caught.value)
    with pytest.raises(RuleTargetError, match="rule hebb .*cannot train memory quadruplets"):
        store(patterns(4, 8), get_rule("hebb"), memory="quadruplets")
    with pytest.raises(RuleTargetError, match="rule storkey .*cannot train memory dense"):
        store(patterns(4, 8), get_rule("storkey")).memory(Power(3), kind="dense")
    with pytest.raises(KeyError, match="memory: expected one of amari, bcpnn, dense"):
        get_kind("bam")


def test_kinds_build_the_memories_a_rule_wrote():
    x = patterns(6, 12)
    weights = get_rule("hebb").fit(x)
    assert isinstance(build("hopfield", weights, 12), Hopfield)
    dense = build("dense", x, 12, separation=Power(3))
    assert isinstance(dense, DenseAM) and kind_of(dense).name == "dense"
    assert kind_of(Hopfield(weights)).name == "hopfield"
    assert get_kind("hopfield").parameters(12, 0) == 144 and get_kind("dense").parameters(12, 6) == 72
    with pytest.raises(ValueError, match="separation"):
        build("dense", x, 12)


@pytest.mark.parametrize("name", ["hopfield", "dense", "softmax"])
def test_a_binary_kind_relaxes_asynchronously_and_a_continuous_one_is_refused(name):
    """``MemoryKind.binary`` is what retrieval's ±1 arms read to choose asynchronous relaxation or one step."""
    from hebbdam.dynamics import relax
    from hebbdam.settings.retrieval import SIGN_IMAGE_KINDS

    assert name in SIGN_IMAGE_KINDS  # the kinds retrieval's ±1 arms build are registry kinds
    x = patterns(4, 16)
    stored = get_rule("hebb").fit(x) if name == "hopfield" else x
    memory = build(name, stored, 16, {"beta": 2.0} if name == "softmax" else {}, Power(3) if name == "dense" else None)
    if get_kind(name).binary:
        states = relax(memory, x, mode="async", generator=torch.Generator().manual_seed(0)).states
        assert states.shape == x.shape and bool((states.abs() == 1).all())
    else:
        with pytest.raises(ValueError, match="binary memory"):
            relax(memory, x, mode="async")
    assert get_kind(name).binary == (name != "softmax")


def test_a_modular_kind_stores_hypercolumns_and_reads_one_winner_in_each():
    """``MemoryKind.modular`` is what the sparse race reads to give an arm a modular code (one active unit in each
    of H hypercolumns) and to end its read with each hypercolumn's winner: only BCPNN, whose ``winners`` leaves
    exactly one unit on per hypercolumn, one that the code stored there."""
    assert [name for name in kind_names() if get_kind(name).modular] == ["bcpnn"]
    generator = torch.Generator().manual_seed(0)
    active = torch.randint(4, (6, 3), generator=generator)  # 6 patterns, 3 hypercolumns of 4 units
    code = torch.nn.functional.one_hot(active, 4).reshape(6, 12).float()
    memory = build("bcpnn", get_rule("bcpnn").fit(code), 12, {"hypercolumns": 3})
    out = memory.winners(code)
    assert bool((out.reshape(6, 3, 4).sum(-1) == 1).all()) and torch.equal(out, code)


def test_a_feature_kind_is_the_additive_write_of_its_random_features():
    """``MemoryKind.features`` (what capacity's direct write and E8a's trainable T read): only DrDAM's feature
    tensor, whose write is additive: T(Ξ) = T(Ξ₁) + T(Ξ₂) for Ξ split in two, with 2Y numbers whatever it stores."""
    assert [name for name in kind_names() if get_kind(name).features] == ["random_features"]
    rule, x = get_rule("random_features", features=64, seed=3), patterns(6, 16)
    torch.testing.assert_close(rule.fit(x), rule.fit(x[:3]) + rule.fit(x[3:]))
    assert get_kind("random_features").parameters(16, 32) == get_kind("random_features").parameters(900, 32) == 64
