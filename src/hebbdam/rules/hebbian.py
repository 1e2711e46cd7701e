"""One-shot Hebbian writes: the activity product and covariance rules for pairwise weights, the slot write for DAMs."""

from __future__ import annotations

import torch
from torch import Tensor

from .base import Rule, register, register_factory


def hebb_update(weights: Tensor, patterns: Tensor) -> Tensor:
    """W + ΞᵀΞ / D with the diagonal kept at zero. weights (D, D); patterns (B, D) → (D, D)."""
    dim = patterns.shape[1]
    delta = patterns.T @ patterns / dim
    return (weights + delta).fill_diagonal_(0.0)


def slot_write(memories: Tensor, patterns: Tensor) -> Tensor:
    """Append the batch as new memories ("memories are the data"): (P, D), (B, D) → (P + B, D)."""
    return torch.cat([memories, patterns], dim=0)


def covariance_update(weights: Tensor, patterns: Tensor, mean: float | None = None) -> Tensor:
    """W + (Ξ - ⟨ξ⟩)ᵀ(Ξ - ⟨ξ⟩) / D, zero diagonal (Sejnowski 1977). (D, D), (B, D) → (D, D).

    ``mean``: the known mean activity (e.g. the bias ε of biased ±1 patterns); None uses each neuron's mean over
    the batch (exact with one full batch).
    """
    centre = patterns.mean(0, keepdim=True) if mean is None else mean
    centred = patterns - centre
    return (weights + centred.T @ centred / patterns.shape[1]).fill_diagonal_(0.0)


HEBB = register(Rule(name="hebb", locality="local", target="pairwise", update=hebb_update, combine="sum"))
SLOT = register(Rule(name="slot", locality="local", target="slots", update=slot_write, combine="concat"))


def covariance(mean: float | None = None) -> Rule:
    if mean is not None and (isinstance(mean, bool) or not isinstance(mean, int | float) or not -1 <= mean <= 1):
        raise ValueError(f"mean: expected null or a mean ±1 activity in [-1, 1], got {mean!r}")

    def update(weights: Tensor, patterns: Tensor) -> Tensor:
        return covariance_update(weights, patterns, mean)

    combine = "none" if mean is None else "sum"  # a batch mean depends on how the data are split
    return Rule("covariance", "local", "pairwise", update, combine=combine, hyper={"mean": mean})


register_factory("covariance", covariance)
