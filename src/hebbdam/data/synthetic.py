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


def biased(count: int, dim: int, epsilon: float, generator: torch.Generator | None = None) -> Tensor:
    """(count, dim) float32 ±1 matrix with independent entries, P(+1) = (1 + ε)/2, so the mean entry is ε."""
    if not -1.0 <= epsilon <= 1.0:
        raise ValueError(f"epsilon: expected a number in [-1, 1], got {epsilon!r}")
    if count < 0 or dim <= 0:
        raise ValueError(f"biased: expected count ≥ 0 and dim > 0, got count={count}, dim={dim}")
    plus = torch.rand(count, dim, generator=generator) < (1.0 + epsilon) / 2.0
    return plus.float().mul_(2.0).sub_(1.0)


def correlated(
    count: int,
    dim: int,
    parents: int,
    overlap: float,
    generator: torch.Generator | None = None,
    epsilon: float = 0.0,
) -> tuple[Tensor, Tensor]:
    """Patterns clustered around ``parents`` random parents (P(+1) = (1+ε)/2).

    Child μ copies parent ``μ mod parents`` with exactly round((1 - overlap)/2 · D) bits flipped, so its overlap
    ξ_μ·parent/D equals ``overlap`` up to that rounding; two children of one parent overlap ≈ overlap² on average.
    Returns (patterns (count, D) ±1 float32, parent index (count,) int64).
    """
    if parents <= 0:
        raise ValueError(f"parents: expected a positive integer, got {parents!r}")
    if not 0.0 <= overlap <= 1.0:
        raise ValueError(f"overlap: expected a number in [0, 1], got {overlap!r}")
    roots = biased(parents, dim, epsilon, generator)
    labels = torch.arange(count) % parents
    children = flip_bits(roots[labels], (1.0 - overlap) / 2.0, generator)
    return children, labels
