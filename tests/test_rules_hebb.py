"""The Hebbian write: symmetric, zero diagonal, the outer-product sum, and the same through Lightning."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hebbdam.data.synthetic import rademacher
from hebbdam.lit import HebbianModule, PatternDataModule, build_trainer, store
from hebbdam.rules import get_rule


@settings(max_examples=25, deadline=None)
@given(count=st.integers(1, 40), dim=st.integers(2, 40), seed=st.integers(0, 2**31 - 1))
def test_hebb_weights_symmetric_zero_diagonal_outer_product(count, dim, seed):
    patterns = rademacher(count, dim, torch.Generator().manual_seed(seed))
    weights = get_rule("hebb").fit(patterns)
    assert torch.equal(weights, weights.T)
    assert torch.count_nonzero(weights.diagonal()) == 0
    expected = (patterns.double().T @ patterns.double() / dim).float()  # fl(K / D): the integers divided once
    off_diagonal = ~torch.eye(dim, dtype=torch.bool)
    assert torch.equal(weights[off_diagonal], expected[off_diagonal])


def test_lightning_storage_equals_direct_write_and_never_uses_autograd():
    patterns = rademacher(300, 50, torch.Generator().manual_seed(1))
    module = HebbianModule(get_rule("hebb"), 50)
    build_trainer().fit(module, datamodule=PatternDataModule(patterns, batch_size=64))  # 5 batches accumulate
    direct = get_rule("hebb").fit(patterns)
    assert torch.equal(module.stored, direct)  # integer sums per batch, divided once: no rounding to accumulate
    assert all(p.grad is None for p in module.parameters())
    assert not module.stored.requires_grad


def test_slot_write_keeps_the_patterns_as_memories():
    patterns = rademacher(70, 20, torch.Generator().manual_seed(2))
    assert torch.equal(store(patterns, get_rule("slot")).stored, patterns)
