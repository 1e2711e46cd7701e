"""In-context associative-recall tasks (experiment E9), generated from a seed, and their Lightning DataModule.

- :func:`key_value_batch`: the synthetic key–value retrieval of Schlag, Irie & Schmidhuber 2021 (Section 6.1). N keys
  and N values. Setting 1: a sequence of N pairs, every key once (a random permutation), values a random permutation.
  Setting 2: a sequence of 2N pairs drawn with replacement, so keys are re-bound; the answer for a key is the value of
  its *latest* occurrence. Every key present in the sequence is queried (Schlag et al. evaluate all of them).
- :func:`mqar_batch`: multi-query associative recall (Zoology, Arora et al. 2023): keys from [1, V/2), values from
  [V/2, V), N distinct pairs written as k₁ v₁ … k_N v_N, then each key queried once at position 2N + 2g with the gap g
  drawn without replacement from P(g) ∝ (g + 1)^(a - 1), a = ``power_a`` (0.01: mostly short gaps); the other positions
  hold random tokens. Labels are the value at the query position, -100 (ignored) elsewhere.

Every batch is a pure function of (seed, labels, epoch, index), so a resumed run sees the batches an uninterrupted
run sees.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytorch_lightning as pl
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler

from .sampling import EpochSampler

IGNORE = -100  # label of positions that are not scored (PyTorch's cross-entropy default)


@dataclass
class KeyValueBatch:
    """keys, values (B, L) in [0, N); queries (B, N) = every key id; answers (B, N) latest value; present (B, N);
    latest (B, N) the position of each key's latest write (-1 where the key never occurs)."""

    keys: Tensor
    values: Tensor
    queries: Tensor
    answers: Tensor
    present: Tensor
    latest: Tensor


def key_value_batch(batch: int, pairs: int, setting: int, generator: torch.Generator) -> KeyValueBatch:
    """Schlag et al.'s retrieval task, setting 1 (N unique keys, length N) or 2 (length 2N, re-bound keys)."""
    if setting == 1:
        keys = torch.argsort(torch.rand(batch, pairs, generator=generator), dim=1)
        values = torch.argsort(torch.rand(batch, pairs, generator=generator), dim=1)
    elif setting == 2:
        keys = torch.randint(pairs, (batch, 2 * pairs), generator=generator)
        values = torch.randint(pairs, (batch, 2 * pairs), generator=generator)
    else:
        raise ValueError(f"setting: expected 1 or 2, got {setting!r}")
    length = keys.shape[1]
    # latest binding: scatter in position order, so the last write of each key wins (deterministic on CPU)
    answers = torch.full((batch, pairs), -1, dtype=torch.long)
    positions = torch.arange(length).expand(batch, length)
    last = torch.full((batch, pairs), -1, dtype=torch.long).scatter_reduce(1, keys, positions, reduce="amax")
    present = last >= 0
    answers[present] = values.gather(1, last.clamp_min(0))[present]
    queries = torch.arange(pairs).expand(batch, pairs).clone()
    return KeyValueBatch(keys, values, queries, answers, present, last)


def power_law_gaps(batch: int, count: int, space: int, power_a: float, generator: torch.Generator) -> Tensor:
    """(B, count) distinct gaps in [0, space) with P(g) ∝ (g + 1)^(a - 1) (Zoology's query-distance law)."""
    weights = torch.arange(1, space + 1, dtype=torch.float64) ** (power_a - 1)
    return torch.multinomial(weights.expand(batch, space), count, replacement=False, generator=generator)


def mqar_batch(
    batch: int, vocab: int, length: int, pairs: int, generator: torch.Generator, power_a: float = 0.01
) -> tuple[Tensor, Tensor]:
    """Zoology's MQAR: → inputs (B, L) token ids in [0, V), labels (B, L) (value at query positions, else -100)."""
    if length % 2 or 4 * pairs > length or vocab <= length or pairs >= vocab // 2:
        raise ValueError(
            f"mqar: needs an even length ≥ 4·pairs and vocab > length, got L={length}, N={pairs}, V={vocab}"
        )
    half = vocab // 2
    keys = 1 + torch.argsort(torch.rand(batch, half - 1, generator=generator), dim=1)[:, :pairs]
    values = half + torch.argsort(torch.rand(batch, vocab - half, generator=generator), dim=1)[:, :pairs]
    inputs = torch.randint(vocab, (batch, length), generator=generator)
    inputs[:, 0 : 2 * pairs : 2], inputs[:, 1 : 2 * pairs : 2] = keys, values
    gaps = power_law_gaps(batch, pairs, (length - 2 * pairs) // 2, power_a, generator)
    where = 2 * pairs + 2 * gaps
    inputs.scatter_(1, where, keys)
    labels = torch.full((batch, length), IGNORE, dtype=torch.long).scatter_(1, where, values)
    return inputs, labels


# Lightning plumbing -----------------------------------------------------------------------------------------------
class EpochIndexSampler(Sampler[tuple[int, int]]):
    """Yields (epoch, i) for i < ``size``, in order: the pattern trainers' epoch sampler (``lit.data``, Lightning
    calls ``set_epoch``) with the epoch attached, so the batch of step i is drawn from (seed, epoch, i)."""

    def __init__(self, size: int):
        self.order = EpochSampler(size, shuffle=False, seed=0)

    def set_epoch(self, epoch: int) -> None:
        self.order.set_epoch(epoch)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter((self.order.epoch, i) for i in self.order)

    def __len__(self) -> int:
        return len(self.order)


class GeneratedBatches(Dataset):
    """Item (epoch, i) or i → one whole batch made by ``make(generator)`` with a generator seeded from the labels."""

    def __init__(self, make, seed_labels: tuple, size: int):
        self.make, self.seed_labels, self.size = make, seed_labels, size

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index):
        from ..seeds import generator_for

        epoch, i = index if isinstance(index, tuple) else (-1, index)
        return self.make(generator_for(*self.seed_labels, epoch, i))


class RecallDataModule(pl.LightningDataModule):
    """Training batches from (seed, task labels, epoch, step); a fixed validation set from (seed, task labels).

    ``task``: ``kv1`` / ``kv2`` (Schlag settings 1 / 2, ``pairs`` = N) or ``mqar`` (``vocab``, ``length``, ``pairs``).
    One epoch = ``steps_per_epoch`` training batches; validation = ``val_batches`` batches.
    """

    def __init__(
        self,
        task: str,
        pairs: int,
        batch_size: int,
        steps_per_epoch: int,
        val_batches: int,
        seed: int,
        vocab: int = 0,
        length: int = 0,
        power_a: float = 0.01,
    ):
        super().__init__()
        if task not in ("kv1", "kv2", "mqar"):
            raise ValueError(f"task: expected kv1, kv2 or mqar, got {task!r}")
        self.task, self.pairs, self.batch_size = task, pairs, batch_size
        self.steps_per_epoch, self.val_batches, self.seed = steps_per_epoch, val_batches, seed
        self.vocab, self.length, self.power_a = vocab, length, power_a

    def make(self, generator: torch.Generator):
        if self.task == "mqar":
            return mqar_batch(self.batch_size, self.vocab, self.length, self.pairs, generator, self.power_a)
        return key_value_batch(self.batch_size, self.pairs, int(self.task[-1]), generator)

    def labels(self, split: str) -> tuple:
        return (self.seed, "recall", split, self.task, self.pairs, self.vocab, self.length)

    def train_dataloader(self) -> DataLoader:
        data = GeneratedBatches(self.make, self.labels("train"), self.steps_per_epoch)
        return DataLoader(data, batch_size=None, sampler=EpochIndexSampler(self.steps_per_epoch), collate_fn=_same)

    def val_dataloader(self) -> DataLoader:
        data = GeneratedBatches(self.make, self.labels("val"), self.val_batches)
        return DataLoader(data, batch_size=None, collate_fn=_same)


def _same(batch):
    return batch
