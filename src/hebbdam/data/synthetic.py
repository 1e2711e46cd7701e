"""Synthetic bipolar patterns and bit-flip corruption, generated from an explicit torch.Generator."""

from __future__ import annotations

import torch
from torch import Tensor


def rademacher(count: int, dim: int, generator: torch.Generator | None = None) -> Tensor:
    """(count, dim) float32 matrix of independent ±1 entries, each sign with probability ½."""
    if count < 0 or dim <= 0:
        raise ValueError(f"rademacher: expected count ≥ 0 and dim > 0, got count={count}, dim={dim}")
    bits = torch.randint(0, 2, (count, dim), generator=generator)
    return bits.float().mul_(2.0).sub_(1.0)


def flip_bits(patterns: Tensor, fraction: float, generator: torch.Generator | None = None) -> Tensor:
    """Flip exactly round(fraction·D) randomly chosen bits of every row of a ±1 matrix (B, D) → (B, D)."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction: expected a number in [0, 1], got {fraction!r}")
    count, dim = patterns.shape
    flips = round(fraction * dim)
    order = torch.rand(count, dim, generator=generator).argsort(dim=1)[:, :flips]
    sign = torch.ones(count, dim, dtype=patterns.dtype)
    sign.scatter_(1, order, -1.0)
    return patterns * sign.to(patterns.device)
