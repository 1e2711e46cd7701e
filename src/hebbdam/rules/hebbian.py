"""One-shot Hebbian writes: the activity-product rule for pairwise weights and the slot write for DAM memories."""

from __future__ import annotations

import torch
from torch import Tensor

from .base import Rule, register


def hebb_update(weights: Tensor, patterns: Tensor) -> Tensor:
    """W + ΞᵀΞ / D with the diagonal kept at zero. weights (D, D); patterns (B, D) → (D, D)."""
    dim = patterns.shape[1]
    delta = patterns.T @ patterns / dim
    return (weights + delta).fill_diagonal_(0.0)


def slot_write(memories: Tensor, patterns: Tensor) -> Tensor:
    """Append the batch as new memories ("memories are the data"): (P, D), (B, D) → (P + B, D)."""
    return torch.cat([memories, patterns], dim=0)


HEBB = register(Rule(name="hebb", locality="local", target="pairwise", update=hebb_update))
SLOT = register(Rule(name="slot", locality="local", target="slots", update=slot_write))
