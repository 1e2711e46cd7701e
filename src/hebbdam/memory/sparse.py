"""Memories of sparse 0/1 patterns and of bound pairs: Willshaw, covariance with threshold, BCPNN, holographic.

States here are 0/1 activity (B, D), not ±1 (``bipolar = False``); each ``step`` is one synchronous read-out of the
whole state, the retrieval the classical capacity analyses use (one step from a partial cue).

- :class:`Willshaw` (Willshaw, Buneman & Longuet-Higgins 1969; Palm 1980): binary clipped weights W (D, D), a unit
  is on when its dendritic sum reaches the number of active cue units (every active cue unit of a stored pattern
  connects to each of the pattern's units, so a subset cue never loses a true unit; errors are only added units).
- :class:`ThresholdNetwork` (Tsodyks & Feigel'man 1988): W = Σ (ξ - f)(ξ - f)ᵀ / D, zero diagonal; a unit is on
  when its field exceeds θ = (1 - f)(½ - f)·|c| / D, the midpoint between the mean fields of an active unit,
  (1 - f)²|c|/D, and of an inactive one, -f(1 - f)|c|/D, given a cue c whose |c| active units belong to the pattern
  (the threshold that separates the two signal levels with equal noise on both sides; TF's θ ∝ (1 - 2f)/2 per unit
  of signal).
- :class:`ProjectionNetwork`: any pairwise W (the pseudo-inverse of the 0/1 patterns, W = Ξᵀ(ΞΞᵀ)⁻¹Ξ with zero
  diagonal, maps each stored pattern to itself) read with the relative threshold θ = ½|c|/k, k = f·D active units per
  pattern: half the field an active unit gets from a cue of |c| of the pattern's own units through a projection.
- :class:`BCPNN` (Lansner & Ekeberg 1989; Sandberg et al. 2002): w_ij = log(p_ij / (p_i p_j)), bias b_j = log p_j
  from co-activation counts with the floor ε (p ≥ ε, p_ij ≥ ε²), H hypercolumns of M units; support s = b + c W,
  then a soft winner-take-all (softmax with ``gain``) inside each hypercolumn.
- :class:`Holographic` (Plate 1995): a trace t (D,) = Σ a ⊛ b (circular convolution); a probe a is unbound by
  circular correlation a # t ≈ b + noise and cleaned up against the item memory (the nearest item by dot product).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import Memory
from .registry import MemoryKind, register_kind


class Willshaw(Memory):
    """Binary clipped weights ``weights`` (D, D) ∈ {0, 1}; s_i ← [Σ_j W_ij c_j ≥ Σ_j c_j]."""

    weights: Tensor  # buffer

    def __init__(self, weights: Tensor):
        super().__init__()
        self.dim = weights.shape[0]
        self.register_buffer("weights", weights)

    def energy(self, states: Tensor) -> Tensor:
        """E = -½ sᵀWs + ½ |s|²: (B, D) → (B,) (lowest on states whose units are all pairwise connected)."""
        return -0.5 * ((states @ self.weights) * states).sum(1) + 0.5 * states.sum(1) ** 2

    def step(self, states: Tensor) -> Tensor:
        """(B, D) 0/1 → (B, D) 0/1: the units whose dendritic sum reaches the cue's activity."""
        sums = states.double() @ self.weights.double()  # integers: exact
        return (sums >= states.double().sum(1, keepdim=True)).to(states.dtype)


class ThresholdNetwork(Memory):
    """Covariance weights ``weights`` (D, D) (Σ (ξ - f)(ξ - f)ᵀ / D, zero diagonal) read with the threshold
    θ(c) = (1 - f)(½ - f)|c|/D; ``coding`` f."""

    weights: Tensor  # buffer

    def __init__(self, weights: Tensor, coding: float):
        super().__init__()
        if not 0.0 < coding < 1.0:
            raise ValueError(f"coding: expected a number in (0, 1), got {coding!r}")
        self.dim, self.coding = weights.shape[0], float(coding)
        self.register_buffer("weights", weights)

    def threshold(self, states: Tensor) -> Tensor:
        """(B, D) → (B, 1): θ = (1 - f)(½ - f)·|c| / D."""
        f = self.coding
        return (1.0 - f) * (0.5 - f) * states.double().sum(1, keepdim=True) / self.dim

    def energy(self, states: Tensor) -> Tensor:
        """E = -½ sᵀWs + θ(s)·|s|: (B, D) → (B,)."""
        s = states.double()
        return -0.5 * ((s @ self.weights.double()) * s).sum(1) + (self.threshold(states) * s).sum(1)

    def step(self, states: Tensor) -> Tensor:
        return (states.double() @ self.weights.double() > self.threshold(states)).to(states.dtype)


def projection_threshold(states: Tensor, coding: float) -> Tensor:
    """(B, D) 0/1 states → (B, 1), in their dtype: θ = ½·|c| / (f·D), the projection read-out's threshold."""
    return 0.5 * states.sum(-1, keepdim=True) / (coding * states.shape[-1])


class ProjectionNetwork(ThresholdNetwork):
    """Weights ``weights`` (D, D) read on 0/1 states with θ(c) = ½|c|/(f·D) instead of the covariance threshold;
    ``coding`` f."""

    def threshold(self, states: Tensor) -> Tensor:
        """(B, D) → (B, 1): :func:`projection_threshold` in float64."""
        return projection_threshold(states.double(), self.coding)


def bcpnn_parameters(counts: Tensor, floor: float) -> tuple[Tensor, Tensor]:
    """Weights (D, D) and bias (D,) from co-activation counts (D+1, D+1) of [1, ξ]: N = counts[0, 0],
    n_i = counts[0, 1:], n_ij = counts[1:, 1:]; p = max(n/N, ε), p_ij = max(n_ij/N, ε²);
    w = log(p_ij / (p_i p_j)), b = log p."""
    total = counts[0, 0].clamp(min=1.0)
    p = (counts[0, 1:] / total).clamp(min=floor)
    pij = (counts[1:, 1:] / total).clamp(min=floor * floor)
    ratio = pij / torch.outer(p, p)
    return ratio.log(), p.log()


class BCPNN(Memory):
    """Bayesian-Hebbian memory on H hypercolumns of M units: ``weights`` (D, D), ``bias`` (D,), D = H·M;
    one step s ← softmax_M(gain·(b + c W)) per hypercolumn."""

    weights: Tensor  # buffer
    bias: Tensor  # buffer

    def __init__(self, weights: Tensor, bias: Tensor, hypercolumns: int, gain: float = 1.0):
        super().__init__()
        dim = weights.shape[0]
        if hypercolumns <= 0 or dim % hypercolumns:
            raise ValueError(f"hypercolumns: expected a positive divisor of D = {dim}, got {hypercolumns!r}")
        self.dim, self.hypercolumns, self.gain = dim, int(hypercolumns), float(gain)
        self.register_buffer("weights", weights)
        self.register_buffer("bias", bias)

    def support(self, states: Tensor) -> Tensor:
        """(B, D) → (B, H, M): b_j + Σ_i c_i w_ij per hypercolumn."""
        total = self.bias.double() + states.double() @ self.weights.double()
        return total.view(states.shape[0], self.hypercolumns, -1)

    def energy(self, states: Tensor) -> Tensor:
        """E = -(b·s + ½ sᵀWs): (B, D) → (B,)."""
        s = states.double()
        return -(s @ self.bias.double() + 0.5 * ((s @ self.weights.double()) * s).sum(1))

    def step(self, states: Tensor) -> Tensor:
        """(B, D) → (B, D): the soft winner-take-all of each hypercolumn."""
        return torch.softmax(self.gain * self.support(states), dim=2).reshape(states.shape).to(states.dtype)

    def winners(self, states: Tensor) -> Tensor:
        """(B, D) → (B, D) 0/1: one unit per hypercolumn, the most supported (the soft WTA at gain → ∞)."""
        support = self.support(states)
        hard = torch.zeros_like(support).scatter_(2, support.argmax(2, keepdim=True), 1.0)
        return hard.reshape(states.shape).to(states.dtype)


def circular_convolution(a: Tensor, b: Tensor) -> Tensor:
    """(…, D), (…, D) → (…, D): (a ⊛ b)_j = Σ_k a_k b_{(j-k) mod D}, by FFT."""
    dim = a.shape[-1]
    return torch.fft.irfft(torch.fft.rfft(a, dim=-1) * torch.fft.rfft(b, dim=-1), n=dim, dim=-1)


def circular_correlation(a: Tensor, t: Tensor) -> Tensor:
    """(…, D), (…, D) → (…, D): (a # t)_j = Σ_k a_k t_{(j+k) mod D}, the approximate inverse of binding by a."""
    dim = a.shape[-1]
    return torch.fft.irfft(torch.fft.rfft(a, dim=-1).conj() * torch.fft.rfft(t, dim=-1), n=dim, dim=-1)


class Holographic(Memory):
    """Plate's holographic reduced representation: ``trace`` (D,), item memory ``items`` (N, D) for the clean-up.

    A state is a probe a (B, D); one step returns the item nearest (by dot product) to a # t."""

    trace: Tensor  # buffer
    items: Tensor  # buffer

    def __init__(self, trace: Tensor, items: Tensor):
        super().__init__()
        if items.ndim != 2 or items.shape[1] != trace.shape[0]:
            raise ValueError(f"items: expected shape (N, {trace.shape[0]}), got {tuple(items.shape)}")
        self.dim = trace.shape[0]
        self.register_buffer("trace", trace)
        self.register_buffer("items", items)

    def decode(self, probes: Tensor) -> Tensor:
        """(B, D) → (B, D): the noisy unbound vector a # t."""
        return circular_correlation(probes, self.trace.expand_as(probes))

    def energy(self, probes: Tensor) -> Tensor:
        """-max_item (item · (a # t)): (B, D) → (B,)."""
        return -(self.decode(probes) @ self.items.T).amax(1)

    def recall_index(self, probes: Tensor) -> Tensor:
        """(B, D) → (B,) int64: the index of the clean-up item nearest to a # t."""
        return (self.decode(probes) @ self.items.T).argmax(1)

    def step(self, probes: Tensor) -> Tensor:
        return self.items[self.recall_index(probes)]


def _willshaw(stored: Tensor, dim: int, options: dict, separation) -> Memory:
    return Willshaw(stored)


def _threshold(stored: Tensor, dim: int, options: dict, separation) -> Memory:
    return ThresholdNetwork(stored, options["coding"])


def _projection(stored: Tensor, dim: int, options: dict, separation) -> Memory:
    return ProjectionNetwork(stored, options["coding"])


def _bcpnn(stored: Tensor, dim: int, options: dict, separation) -> Memory:
    weights, bias = bcpnn_parameters(stored, float(options.get("floor", 1e-4)))
    return BCPNN(weights, bias, int(options["hypercolumns"]), float(options.get("gain", 1.0)))


def _holographic(stored: Tensor, dim: int, options: dict, separation) -> Memory:
    return Holographic(stored, options["items"])


register_kind(
    MemoryKind("willshaw", ("pairwise",), _willshaw, lambda d, s: d * d, (Willshaw,), "clipped binary W", False)
)
register_kind(
    MemoryKind(
        "threshold", ("pairwise",), _threshold, lambda d, s: d * d, (ThresholdNetwork,), "covariance W, θ", False
    )
)
register_kind(
    MemoryKind(
        "projection", ("pairwise",), _projection, lambda d, s: d * d, (ProjectionNetwork,), "W on 0/1, θ ∝ |c|", False
    )
)
register_kind(
    MemoryKind("bcpnn", ("coactivity",), _bcpnn, lambda d, s: d * d + d, (BCPNN,), "BCPNN log-odds weights, bias")
)
register_kind(
    MemoryKind("holographic", ("trace",), _holographic, lambda d, s: d, (Holographic,), "holographic trace (D,)")
)

__all__ = ["BCPNN", "Holographic", "ProjectionNetwork", "ThresholdNetwork", "Willshaw", "bcpnn_parameters"]
