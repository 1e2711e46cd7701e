"""One-shot Hebbian writes: the activity product and covariance rules for pairwise weights, the slot write for DAMs."""

from __future__ import annotations

import torch
from torch import Tensor

from ..memory.base import integer_numerators
from .base import Rule, register, register_factory


def hebb_update(weights: Tensor, patterns: Tensor) -> Tensor:
    """W + ΞᵀΞ / D with the diagonal kept at zero. weights (D, D); patterns (B, D) → (D, D).

    Exact for ±1 patterns: the sums of outer products are integers, accumulated in float64 (exact below 2⁵³ in any
    summation order) on top of the integers D·W of the weights so far, and divided by D once, so W = fl(K / D) for
    the integer K = Σ_μ ξ_μ ξ_μᵀ whatever the batches, the CPU or its thread count. Weights not of the form K / D
    (another rule's, or real-valued patterns) are added to as they are.
    """
    dim = patterns.shape[1]
    products = patterns.double().T @ patterns.double()
    counts = integer_numerators(weights, dim)
    total = weights.double() + products / dim if counts is None else (counts + products) / dim
    return total.to(weights.dtype).fill_diagonal_(0.0)


def hebb_sums(counts: Tensor, patterns: Tensor) -> Tensor:
    """K + ΞᵀΞ with the diagonal kept at zero: the Hebb rule's state, the integer sums of outer products (exact in
    float32 below 2²⁴ patterns, in any summation order, and exactly additive across batches and devices). (D, D),
    (B, D) → (D, D); :func:`hebb_weights` divides once at the end."""
    return (counts + patterns.T @ patterns).fill_diagonal_(0.0)


def hebb_weights(counts: Tensor) -> Tensor:
    """W = K / D, one division (the ``finalize`` of the Hebb rule): (D, D) → (D, D)."""
    return counts / counts.shape[0]


def slot_write(memories: Tensor, patterns: Tensor) -> Tensor:
    """Append the batch as new memories ("memories are the data"): (P, D), (B, D) → (P + B, D)."""
    return torch.cat([memories, patterns], dim=0)


def covariance_update(weights: Tensor, patterns: Tensor, mean: float | None = None) -> Tensor:
    """W + (Ξ - ⟨ξ⟩)ᵀ(Ξ - ⟨ξ⟩) / D, zero diagonal (Sejnowski 1977). (D, D), (B, D) → (D, D).

    ``mean``: the known mean activity a (e.g. the bias ε of biased ±1 patterns); None uses each neuron's mean over
    the batch (exact with one full batch). Computed as Σ_μ (ξ_μi - a)(ξ_μj - a) = C_ij - a (s_i + s_j) + B a² (with a
    batch mean m: C_ij - s_i s_j / B), from the integer C = ΞᵀΞ and column sums s of ±1 patterns, by elementwise
    float64 operations only: the same weights on every CPU (a float32 product of the centred patterns would round
    differently under each vector width).
    """
    x = patterns.double()
    batch, dim = x.shape
    products = x.T @ x  # integers for ±1 patterns
    sums = x.sum(0)
    if mean is None:
        centred = products - torch.outer(sums, sums) / batch
    else:
        centred = products - mean * (sums[:, None] + sums[None, :]) + batch * mean * mean
    return (weights.double() + centred / dim).to(weights.dtype).fill_diagonal_(0.0)


HEBB = register(
    Rule(name="hebb", locality="local", target="pairwise", update=hebb_sums, finalize=hebb_weights, combine="sum")
)
SLOT = register(Rule(name="slot", locality="local", target="slots", update=slot_write, combine="concat"))


def covariance(mean: float | None = None) -> Rule:

    def update(weights: Tensor, patterns: Tensor) -> Tensor:
        return covariance_update(weights, patterns, mean)

    combine = "none" if mean is None else "sum"  # a batch mean depends on how the data are split
    return Rule("covariance", "local", "pairwise", update, combine=combine, hyper={"mean": mean})


register_factory("covariance", covariance)
