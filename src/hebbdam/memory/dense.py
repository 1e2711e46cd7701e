"""Dense Associative Memory with bipolar memories (Krotov & Hopfield 2016; Demircigil et al. 2017)."""

from __future__ import annotations

from torch import Tensor

from .base import BinaryMemory
from .separation import Separation


class DenseAM(BinaryMemory):
    """E(σ) = -Σ_μ F(ξ_μ·σ / D). ``memories`` Ξ (P, D) with ±1 entries; ``separation`` is F.

    Flipping σ_i changes every overlap by -2 ξ_μi σ_i / D. Because ξ_μi σ_i = ±1, the energy difference splits into a
    part even and a part odd in ξ_μi, so the synchronous field of all D neurons is two matrix products:
        field = b(X) Ξ + σ ⊙ Σ_μ a(X),  X = S Ξᵀ / D,
        a = ½[F(x) - F(x-h) + F(x) - F(x+h)],  b = ½[(F(x) - F(x-h)) - (F(x) - F(x+h))],  h = 2/D.
    """

    def __init__(self, memories: Tensor, separation: Separation):
        super().__init__()
        if memories.ndim != 2:
            raise ValueError(f"memories: expected a (P, D) matrix, got {tuple(memories.shape)}")
        self.dim = memories.shape[1]
        self.separation = separation
        self.register_buffer("memories", memories)

    def overlaps(self, states: Tensor) -> Tensor:
        """(B, D) → (B, P) raw overlaps ξ_μ·σ (integers for bipolar inputs, kept exact in the cache)."""
        return states @ self.memories.T

    def energy(self, states: Tensor) -> Tensor:
        return -self.separation(self.overlaps(states) / self.dim).sum(-1)

    def field(self, states: Tensor) -> Tensor:
        x = self.overlaps(states) / self.dim
        h = 2.0 / self.dim
        keep_if_aligned = self.separation.flip_gain(x, -h)  # F(x) - F(x - h): gain of σ_i when ξ_μi σ_i = +1
        keep_if_opposed = self.separation.flip_gain(x, h)  # F(x) - F(x + h): gain of σ_i when ξ_μi σ_i = -1
        odd = 0.5 * (keep_if_aligned - keep_if_opposed)
        even = 0.5 * (keep_if_aligned + keep_if_opposed)
        return odd @ self.memories + states * even.sum(-1, keepdim=True)

    def cache(self, states: Tensor) -> Tensor:
        return self.overlaps(states)

    def field_at(self, cache: Tensor, states: Tensor, index: Tensor) -> Tensor:
        sigma = states.gather(1, index[:, None])  # (B, 1)
        aligned = self.memories.T[index] * sigma  # ξ_μi σ_i, (B, P)
        gain = self.separation.flip_gain(cache / self.dim, -2.0 * aligned / self.dim).sum(-1)
        return sigma[:, 0] * gain

    def after_flip(self, cache: Tensor, index: Tensor, delta: Tensor) -> Tensor:
        return cache + delta[:, None] * self.memories.T[index]
