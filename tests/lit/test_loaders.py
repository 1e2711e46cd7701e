"""The loaders the trainers read: a rank with no rows gets one empty batch; the recall tasks' sampler carries the
epoch."""

from __future__ import annotations

from types import SimpleNamespace

import torch

from hebbdam.data.recall_tasks import EpochIndexSampler
from hebbdam.lit import PatternDataModule


def test_a_rank_without_rows_gets_one_empty_batch():
    patterns, labels = torch.ones(2, 5), torch.arange(2)
    data = PatternDataModule(patterns, batch_size=4, labels=labels)
    data.trainer = SimpleNamespace(world_size=3, global_rank=2)  # ⌈2/3⌉ = 1 row per rank: rank 2 has none
    batches = list(data.train_dataloader())
    assert len(batches) == 1
    rows, names = batches[0]
    assert rows.shape == (0, 5) and names.shape == (0,)


def test_the_recall_sampler_yields_the_epoch_with_each_index():
    sampler = EpochIndexSampler(3)
    assert len(sampler) == 3 and list(sampler) == [(0, 0), (0, 1), (0, 2)]
    sampler.set_epoch(4)
    assert list(sampler) == [(4, 0), (4, 1), (4, 2)]
