"""The classical Hopfield network: pairwise weights from any learning rule, with optional neuron thresholds."""

from __future__ import annotations

import torch
from torch import Tensor

from .base import BinaryMemory, integer_numerators
from .registry import MemoryKind, register_kind


class Hopfield(BinaryMemory):
    """E(σ) = -½ σᵀWσ + θᵀσ; σ_i ← sgn(Σ_j W_ij σ_j - θ_i). ``weights`` (D, D), symmetric with a zero diagonal for a
    Lyapunov energy under asynchronous updates; ``threshold`` θ: a number (every neuron) or (D,), default 0.

    A threshold is what the covariance rule needs for biased patterns (:func:`hebbdam.references.covariance_threshold`).

    Exact fields. Every field is computed in float64 in *field units*: W = ``field_scale`` · ``field_weights``.
    When W · D is integer up to float rounding (Hebbian weights of ±1 patterns, W = Σ_μ ξ_μ ξ_μᵀ / D),
    ``field_weights`` holds those integers and ``field_scale`` = 1/D, so Σ_j K_ij σ_j is an exact integer in any
    summation order and a tie (h_i = 0) is exactly 0 on every CPU, settled by :func:`sign_keep`; θ enters as θ · D
    (one rounding, the same everywhere). Other weights (Storkey, pseudo-inverse, backprop) are used as stored, in
    float64: the sum of D float32 weights is exact (order-free) while the weights span < 2²⁸ in magnitude.
    """

    weights: Tensor  # buffer
    threshold: Tensor  # buffer
    field_weights: Tensor  # buffer
    field_threshold: Tensor  # buffer

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
        counts = integer_numerators(weights, self.dim)
        self.field_scale = 1.0 if counts is None else 1.0 / self.dim
        units = weights.double() if counts is None else counts
        self.register_buffer("field_weights", units, persistent=False)  # (D, D) float64
        self.register_buffer("field_threshold", self.threshold.double() / self.field_scale, persistent=False)

    @property
    def exact(self) -> bool:
        """True when the fields are exact integers (Hebbian weights K / D)."""
        return self.field_scale != 1.0

    def field_units(self, states: Tensor) -> Tensor:
        """(B, D) → (B, D) float64: (W σ - θ) / ``field_scale``, exact for Hebbian weights."""
        return states.double() @ self.field_weights.T - self.field_threshold

    def energy(self, states: Tensor) -> Tensor:
        sigma = states.double()
        quadratic = ((sigma @ self.field_weights.T) * sigma).sum(-1)
        return (self.field_scale * (-0.5 * quadratic + sigma @ self.field_threshold)).to(states.dtype)

    def field(self, states: Tensor) -> Tensor:
        return (self.field_units(states) * self.field_scale).to(states.dtype)

    # Asynchronous steps keep the local fields h = W σ / field_scale current per flip in float64: exact integers for
    # Hebbian weights, exact sums of float32 weights otherwise, so the dynamics are exactly those of the stored W and
    # the Lyapunov argument holds; θ is subtracted on reading.
    def cache(self, states: Tensor) -> Tensor:
        return states.double() @ self.columns("field_weights")

    def field_at(self, cache: Tensor, states: Tensor, index: Tensor) -> Tensor:
        return cache.gather(1, index[:, None])[:, 0] - self.field_threshold[index]

    def sweep_fields(self, states: Tensor) -> Tensor:
        """(B, D) → (B, D) float64 :meth:`field_units`: the fields the per-neuron sweep reads, θ included."""
        return self.field_units(states)

    def refresh_fields(self, fields: Tensor, states: Tensor, rows: Tensor, neurons: Tensor, delta: Tensor) -> None:
        # σ_i += δ adds δ W_ji to every h_j of that state: one row of the transpose per flipped state (exact, as cache)
        fields[rows] += delta.double()[:, None] * self.columns("field_weights")[neurons]

    def after_flip(self, cache: Tensor, index: Tensor, delta: Tensor) -> Tensor:
        # h_j = Σ_k W_jk σ_k, so σ_i += δ adds δ W_ji to every h_j: column i of W, one per state.
        return torch.addcmul(cache, delta.double()[:, None], self.columns("field_weights")[index])


def _from_weights(stored: Tensor, dim: int, options: dict, separation) -> Hopfield:
    return Hopfield(stored)


register_kind(
    MemoryKind(
        "hopfield", ("pairwise",), _from_weights, lambda dim, size: dim * dim, (Hopfield,), "pairwise weights W (D, D)"
    )
)
