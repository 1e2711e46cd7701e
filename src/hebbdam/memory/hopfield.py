"""The classical Hopfield network: pairwise weights from any learning rule, with optional neuron thresholds."""

from __future__ import annotations

import torch
from torch import Tensor

from .base import BinaryMemory
from .registry import MemoryKind, register_kind


class Hopfield(BinaryMemory):
    """E(σ) = -½ σᵀWσ + θᵀσ; σ_i ← sgn(Σ_j W_ij σ_j - θ_i). ``weights`` (D, D), symmetric with a zero diagonal for a
    Lyapunov energy under asynchronous updates; ``threshold`` θ: a number (every neuron) or (D,), default 0.

    A threshold is what the covariance rule needs for biased patterns (:func:`hebbdam.references.covariance_threshold`).
    """

    def __init__(self, weights: Tensor, threshold: float | Tensor = 0.0):
        super().__init__()
        if weights.ndim != 2 or weights.shape[0] != weights.shape[1]:
            raise ValueError(f"weights: expected a square (D, D) matrix, got {tuple(weights.shape)}")
        self.dim = weights.shape[0]
        self.register_buffer("weights", weights)
        theta = torch.as_tensor(threshold, dtype=weights.dtype, device=weights.device)
        if theta.ndim > 1 or (theta.ndim == 1 and theta.shape[0] != self.dim) or not bool(torch.isfinite(theta).all()):
            raise ValueError(f"threshold: expected a finite number or a ({self.dim},) vector, got {tuple(theta.shape)}")
        self.register_buffer("threshold", theta.expand(self.dim).clone())

    def energy(self, states: Tensor) -> Tensor:
        return -0.5 * ((states @ self.weights.T) * states).sum(-1) + states @ self.threshold

    def field(self, states: Tensor) -> Tensor:
        return states @ self.weights.T - self.threshold

    # Asynchronous steps keep the local fields h = W σ current per flip in float64. Every h is then the exact sum of
    # float32 weights (Hebbian-type weights need < 53 bits), so the dynamics are exactly those of the stored W and
    # the Lyapunov argument holds; a float32 field drifts by rounding, and exact ties (h_i = 0, frequent for Hebbian
    # weights at even D) turn into ±1e-8 noise that can flip neurons at zero energy cost. θ is subtracted on reading.
    def cache(self, states: Tensor) -> Tensor:
        return states.double() @ self.columns("weights", torch.float64)

    def field_at(self, cache: Tensor, states: Tensor, index: Tensor) -> Tensor:
        return cache.gather(1, index[:, None])[:, 0] - self.threshold.double()[index]

    def after_flip(self, cache: Tensor, index: Tensor, delta: Tensor) -> Tensor:
        # h_j = Σ_k W_jk σ_k, so σ_i += δ adds δ W_ji to every h_j: column i of W, one per state.
        return torch.addcmul(cache, delta.double()[:, None], self.columns("weights", torch.float64)[index])


def _from_weights(stored: Tensor, dim: int, options: dict, separation) -> Hopfield:
    return Hopfield(stored)


register_kind(
    MemoryKind(
        "hopfield", ("pairwise",), _from_weights, lambda dim, size: dim * dim, (Hopfield,), "pairwise weights W (D, D)"
    )
)
