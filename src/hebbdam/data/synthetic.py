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


def sparse_binary(count: int, dim: int, coding: float, generator: torch.Generator | None = None) -> Tensor:
    """(count, dim) float32 0/1 patterns with exactly k = max(1, round(coding·D)) active units each, at random places.

    Exactly k rather than Bernoulli(f): the classical sparse-memory analyses (Willshaw, Palm 1980) fix the activity,
    and the threshold read-outs (Willshaw's "as many as the cue has active units", the covariance midpoint) need the
    activity; a Bernoulli code at D of a few hundred would let the activity fluctuate by ±√(fD), which at f = 0.01
    is the whole pattern, so its errors would measure the fluctuation, not the rule.
    """
    if count < 0 or dim <= 0 or not 0.0 < coding < 1.0:
        raise ValueError(f"sparse_binary: expected count ≥ 0, dim > 0, 0 < coding < 1, got {count}, {dim}, {coding}")
    active = max(1, round(coding * dim))
    order = torch.rand(count, dim, generator=generator).argsort(dim=1)[:, :active]
    return torch.zeros(count, dim).scatter_(1, order, 1.0)


def modular(count: int, hypercolumns: int, minicolumns: int, generator: torch.Generator | None = None) -> Tensor:
    """(count, H·M) float32 0/1 patterns with exactly one active unit in each of H hypercolumns of M units (BCPNN's
    modular code, coding level 1/M); hypercolumn h is columns h·M … h·M + M - 1."""
    if count < 0 or hypercolumns <= 0 or minicolumns < 2:
        raise ValueError(f"modular: expected count ≥ 0, H > 0, M ≥ 2, got {count}, {hypercolumns}, {minicolumns}")
    winners = torch.randint(0, minicolumns, (count, hypercolumns), generator=generator)
    offsets = torch.arange(hypercolumns) * minicolumns
    return torch.zeros(count, hypercolumns * minicolumns).scatter_(1, winners + offsets, 1.0)


def sparse_cue(
    patterns: Tensor, removed: float, added: float = 0.0, generator: torch.Generator | None = None
) -> Tensor:
    """Cues from 0/1 patterns (B, D) → (B, D): round(removed·k) of each row's k active units switched off and
    round(added·k) of its inactive units switched on (noise), at random places."""
    if not 0.0 <= removed <= 1.0 or added < 0.0:
        raise ValueError(f"sparse_cue: expected removed in [0, 1] and added ≥ 0, got {removed!r}, {added!r}")
    active = patterns.sum(1, keepdim=True)  # (B, 1)
    score = torch.rand(patterns.shape, generator=generator)
    off = round(removed * float(active.max())) if patterns.numel() else 0
    on = round(added * float(active.max())) if patterns.numel() else 0
    ranked_on = (score + 2.0 * (1.0 - patterns)).argsort(dim=1)  # active units first, in random order
    ranked_off = (score + 2.0 * patterns).argsort(dim=1)  # inactive units first
    cues = patterns.clone()
    cues.scatter_(1, ranked_on[:, :off], 0.0)
    cues.scatter_(1, ranked_off[:, :on], 1.0)
    return cues
