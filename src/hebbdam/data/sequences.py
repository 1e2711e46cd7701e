"""Sequences for the sequence-memory experiments: a sequence is a matrix (L, D) whose row t+1 follows row t.

Random sequences have independent ±1 frames (optionally biased); digit sequences are binarised images whose classes
run through a fixed cycle (0, 1, …, 9, 0, …), each frame a random image of its class — strongly correlated frames.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from .synthetic import biased


def random_sequence(length: int, dim: int, generator: torch.Generator | None = None, epsilon: float = 0.0) -> Tensor:
    """(L, D) independent ±1 frames with P(+1) = (1 + ε)/2."""
    return biased(length, dim, epsilon, generator)


def digit_sequence(
    images: Tensor,
    labels: Tensor,
    length: int,
    generator: torch.Generator | None = None,
    cycle: Sequence[int] = tuple(range(10)),
) -> Tensor:
    """(L, D) frames: frame t is a random row of ``images`` (N, D) whose label is cycle[t mod len(cycle)].

    Pass binarised ±1 images (``metrics.binarise`` or a prepared file's ``b_train``) for the binary sequence networks.
    """
    if length < 0:
        raise ValueError(f"length: expected a non-negative integer, got {length!r}")
    cycle_t = torch.as_tensor(list(cycle), dtype=torch.int64)
    labels = labels.to(torch.int64).cpu()
    counts = torch.bincount(labels, minlength=int(cycle_t.max()) + 1)
    missing = [int(c) for c in cycle_t if counts[c] == 0]
    if missing:
        raise ValueError(f"cycle: classes {missing} have no image among the labels")
    by_class = labels.argsort(stable=True)
    starts = torch.cumsum(counts, 0) - counts
    wanted = cycle_t[torch.arange(length) % len(cycle_t)]
    offsets = (torch.rand(length, generator=generator) * counts[wanted]).long().clamp_max(counts[wanted] - 1)
    return images[by_class[starts[wanted] + offsets].to(images.device)]


def transitions(sequence: Tensor, cyclic: bool = False) -> tuple[Tensor, Tensor]:
    """Pairs (ξ_t, ξ_{t+1}) of a sequence (L, D): two (L-1, D) matrices, or (L, D) with the wrap-around if cyclic."""
    nxt = sequence.roll(-1, dims=0)
    return (sequence, nxt) if cyclic else (sequence[:-1], nxt[:-1])
