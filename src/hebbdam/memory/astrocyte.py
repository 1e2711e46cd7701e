"""Neuron–astrocyte memory (Kozachkov, Slotine & Krotov 2025): a 4th-order Hebbian tensor, kept factored.

T_ijkl = D⁻³ Σ_μ ξ_μi ξ_μj ξ_μk ξ_μl is a one-shot Hebbian write (a sum of outer products). It is never
formed: every contraction goes through the overlaps o = Ξσ, e.g. Σ_jkl T_ijkl σ_j σ_k σ_l = D⁻³ Σ_μ ξ_μi o_μ³,
so memory is P·D, not D⁴, and the model behaves as a polynomial DAM with n = 4.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import BinaryMemory, check_matrix, integer_power
from .dense import DenseAM
from .registry import MemoryKind, register_kind
from .separation import Power, Separation

MAX_MATERIALISED_DIM = 24  # :meth:`tensor` is for tests on tiny D only


SIGN_SNAP = 1e-5  # |u D^{3/4}| within this of 1 everywhere: the factors are ±1 patterns up to float rounding


def tensor4_memories(factors: Tensor) -> Tensor:
    """The patterns ξ_μ = u_μ D^{3/4} (P, D): the tensor memory is a DenseAM with F = x⁴ (same dynamics, E·D/4).

    Factors of ±1 patterns come back as exactly ±1 (u D^{3/4} only rounds near them), so the DenseAM takes its
    exact integer field; other factors are scaled as they are."""
    scaled = factors * factors.shape[1] ** 0.75
    signs = torch.sign(scaled)
    if scaled.numel() and bool(((scaled - signs).abs() <= SIGN_SNAP).all()):
        return signs
    return scaled


class NeuronAstrocyte(BinaryMemory):
    """E(σ) = -¼ Σ_ijkl T_ijkl σ_i σ_j σ_k σ_l = -(4D³)⁻¹ Σ_μ (ξ_μ·σ)⁴; σ_i ← sgn(Σ_jkl T_ijkl σ_j σ_k σ_l).

    ``memories`` Ξ (P, D). E is concave in σ, so sign-of-field updates never raise it (asynchronously).
    """

    memories: Tensor  # buffer

    def __init__(self, memories: Tensor):
        super().__init__()
        check_matrix(memories, "memories")
        self.dim = memories.shape[1]
        self.register_buffer("memories", memories)

    def write(self, patterns: Tensor) -> NeuronAstrocyte:
        """Hebbian write T += D⁻³ Σ ξ⊗ξ⊗ξ⊗ξ, stored as its factors (appended rows). Returns self."""
        check_matrix(patterns, "patterns", dim=self.dim)
        self.memories = torch.cat([self.memories, patterns.to(self.memories.dtype)], dim=0)
        return self

    # float64 and repeated products: for ±1 memories every sum is an exact integer (while P D⁴ < 2⁵³), in any order
    def energy(self, states: Tensor) -> Tensor:
        overlaps = states.double() @ self.memories.double().T
        return (-integer_power(overlaps, 4).sum(-1) / (4.0 * self.dim**3)).to(states.dtype)

    def field(self, states: Tensor) -> Tensor:
        overlaps = states.double() @ self.memories.double().T
        return (integer_power(overlaps, 3) @ self.memories.double() / self.dim**3).to(states.dtype)

    def tensor(self) -> Tensor:
        """The materialised (D, D, D, D) tensor; only for D ≤ 24 (checks of the factored contraction)."""
        if self.dim > MAX_MATERIALISED_DIM:
            raise ValueError(f"dim: materialising D⁴ entries needs D ≤ {MAX_MATERIALISED_DIM}, got {self.dim}")
        x = self.memories
        return torch.einsum("mi,mj,mk,ml->ijkl", x, x, x, x) / self.dim**3

    def cache(self, states: Tensor) -> Tensor:
        return states @ self.memories.T

    def field_at(self, cache: Tensor, states: Tensor, index: Tensor) -> Tensor:
        return (cache.pow(3) * self.columns("memories")[index]).sum(-1) / self.dim**3

    def after_flip(self, cache: Tensor, index: Tensor, delta: Tensor) -> Tensor:
        return torch.addcmul(cache, delta[:, None], self.columns("memories")[index])


def _from_factors(stored: Tensor, dim: int, options: dict, separation: Separation | None) -> DenseAM:
    """The 4th-order tensor's factors u_μ (P, D) read as the DenseAM with F = x⁴ over ξ_μ = u_μ D^{3/4}."""
    return DenseAM(tensor4_memories(stored), separation or Power(4))


register_kind(
    MemoryKind(
        "tensor4",
        ("tensor4",),
        _from_factors,
        lambda dim, size: size * dim,
        (NeuronAstrocyte,),
        "a 4th-order tensor (factors u_μ (P, D))",
    )
)
