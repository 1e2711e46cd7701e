"""DataModules for storage and training: a fixed pattern matrix (optionally labelled) and scikit-learn's digits.

Order is a pure function of (seed, epoch), so a run resumed from a checkpoint sees exactly the batches an
uninterrupted run sees. With several devices each rank gets a contiguous shard of the rows (rank 0 the first), so
Hebbian sums and appended slots match a single-process run.
"""

from __future__ import annotations

import pytorch_lightning as pl
import torch
from torch import Tensor
from torch.utils.data import DataLoader, RandomSampler, TensorDataset

from ..data.sampling import EpochSampler


def shard(tensors: tuple[Tensor, ...], rank: int, world: int) -> tuple[Tensor, ...]:
    """Contiguous rows [rank·⌈N/world⌉, …) of each tensor: every row is used exactly once over all ranks.

    Ours rather than torch's DistributedSampler, which deals rows out round-robin (rank r gets rows r, r + world, …)
    and pads the last ranks with repeated rows: a repeated row would be written twice into a Hebbian sum, and
    round-robin shards would append slots in another order than one process does."""
    if world <= 1:
        return tensors
    size = -(-tensors[0].shape[0] // world)
    return tuple(t[rank * size : (rank + 1) * size] for t in tensors)


class PatternDataModule(pl.LightningDataModule):
    """Serves a pattern matrix (P, D) (and, optionally, labels (P,)) in batches of ``batch_size`` rows."""

    def __init__(
        self,
        patterns: Tensor,
        batch_size: int = 1024,
        labels: Tensor | None = None,
        shuffle: bool = False,
        seed: int = 0,
    ):
        super().__init__()
        if patterns.ndim != 2:
            raise ValueError(f"patterns: expected a (P, D) matrix, got {tuple(patterns.shape)}")
        if batch_size < 1:
            raise ValueError(f"batch_size: expected an integer ≥ 1, got {batch_size!r}")
        self.patterns, self.labels = patterns, labels
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed

    def _tensors(self, patterns: Tensor, labels: Tensor | None) -> tuple[Tensor, ...]:
        tensors: tuple[Tensor, ...] = (patterns,) if labels is None else (patterns, labels)
        trainer = self.trainer
        if trainer is not None and trainer.world_size > 1:
            tensors = shard(tensors, trainer.global_rank, trainer.world_size)
        return tensors

    def train_dataloader(self) -> DataLoader:
        tensors = self._tensors(self.patterns, self.labels)
        if tensors[0].shape[0] == 0:  # more ranks than rows: this rank writes one empty batch (a no-op) and joins
            # the all-reduce; Lightning refuses a loader with no batch. One item: ``tensors`` itself
            return DataLoader(TensorDataset(*(t[None] for t in tensors)), batch_size=None)
        sampler = EpochSampler(tensors[0].shape[0], self.shuffle, self.seed)
        return DataLoader(TensorDataset(*tensors), batch_size=self.batch_size, sampler=sampler)


class ResampledDataModule(PatternDataModule):
    """``steps`` batches of ``batch_size`` rows drawn with replacement (seeded by ``seed``): one epoch is ``steps``
    updates whatever the number of rows P, so a handful of training points still fills every batch."""

    def __init__(self, patterns: Tensor, batch_size: int, steps: int, seed: int = 0):
        super().__init__(patterns, batch_size=batch_size, seed=seed)
        self.steps = steps

    def train_dataloader(self) -> DataLoader:
        tensors = self._tensors(self.patterns, self.labels)
        draws = self.steps * self.batch_size
        sampler = RandomSampler(
            range(tensors[0].shape[0]),
            replacement=True,
            num_samples=draws,
            generator=torch.Generator().manual_seed(self.seed),
        )
        return DataLoader(TensorDataset(*tensors), batch_size=self.batch_size, sampler=sampler)


class EvaluatedDataModule(PatternDataModule):
    """A :class:`PatternDataModule` with a held-out set (patterns, labels) for Lightning's validation loop."""

    def __init__(self, patterns: Tensor, val_patterns: Tensor, labels=None, val_labels=None, **kwargs):
        super().__init__(patterns, labels=labels, **kwargs)
        self.val_patterns, self.val_labels = val_patterns, val_labels

    def val_dataloader(self) -> DataLoader:
        tensors = self._tensors(self.val_patterns, self.val_labels)
        return DataLoader(TensorDataset(*tensors), batch_size=self.batch_size, shuffle=False)


def digits(test_fraction: float = 0.25, seed: int = 0) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """scikit-learn's 8×8 digits (bundled, no download), pixels scaled to [0, 1], a stratified split.

    Returns (train images (N, 64), train labels (N,), test images, test labels)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    images = torch.tensor(bunch.data / 16.0, dtype=torch.float32)
    labels = torch.tensor(bunch.target, dtype=torch.long)
    index = torch.arange(len(labels)).numpy()
    train, test = train_test_split(index, test_size=test_fraction, random_state=seed, stratify=bunch.target)
    return images[train], labels[train], images[test], labels[test]
