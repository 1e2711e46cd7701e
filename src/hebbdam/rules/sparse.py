"""One-shot local rules for sparse 0/1 patterns and bound pairs: Willshaw's clipped write, BCPNN's co-activation
counts, the holographic trace. (The covariance rule with threshold is ``covariance`` with ``mean`` = f, read by the
``threshold`` memory kind.)"""

from __future__ import annotations

import torch
from torch import Tensor

from ..memory.sparse import circular_convolution
from .base import Rule, register


def willshaw_update(weights: Tensor, patterns: Tensor) -> Tensor:
    """W_ij ← min(1, W_ij + Σ_μ ξ_μi ξ_μj): (D, D), (B, D) 0/1 → (D, D) ∈ {0, 1} (Willshaw et al. 1969: a synapse is
    switched on the first time its two units are co-active, and stays binary)."""
    products = patterns.double().T @ patterns.double()
    return (weights.double() + products).clamp(max=1.0).to(weights.dtype)


WILLSHAW = register(Rule(name="willshaw", locality="local", target="pairwise", update=willshaw_update))


def coactivity_update(counts: Tensor, patterns: Tensor) -> Tensor:
    """counts + [1, ξ]ᵀ[1, ξ] summed over the batch: (D+1, D+1), (B, D) → (D+1, D+1); entry (0, 0) counts the
    patterns N, row 0 the activations n_i, the rest the co-activations n_ij (BCPNN's probability estimates, each
    from the two units of a synapse only)."""
    ones = torch.ones(patterns.shape[0], 1, dtype=torch.float64, device=patterns.device)
    extended = torch.cat([ones, patterns.double()], dim=1)
    return (counts.double() + extended.T @ extended).to(counts.dtype)


def _coactivity_init(dim: int, generator=None) -> Tensor:
    return torch.zeros(dim + 1, dim + 1)


BCPNN_RULE = register(
    Rule(
        name="bcpnn",
        locality="local",
        target="coactivity",
        update=coactivity_update,
        init=_coactivity_init,
        combine="sum",
    )
)


def trace_update(trace: Tensor, pairs: Tensor) -> Tensor:
    """t + Σ_μ a_μ ⊛ b_μ: (D,), (B, 2D) rows [a, b] → (D,) (Plate 1995: every pair superposed in one trace)."""
    dim = trace.shape[0]
    return trace + circular_convolution(pairs[:, :dim], pairs[:, dim:]).sum(0)


def _trace_init(dim: int, generator=None) -> Tensor:
    return torch.zeros(dim // 2)


HOLOGRAPHIC = register(
    Rule(name="holographic", locality="local", target="trace", update=trace_update, init=_trace_init, combine="sum")
)
