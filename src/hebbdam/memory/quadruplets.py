"""A fourth-order memory on a budget: M random index quadruplets instead of the full D⁴ tensor.

The neuron–astrocyte memory (``astrocyte.py``) couples every quadruplet of neurons; here only M fixed quadruplets
q = (i, j, k, l) of distinct neurons carry a coupling T_q, so the stored tensor has exactly M entries whatever the
number of patterns (a diluted 4th-order network). E(σ) = -Σ_q T_q σ_i σ_j σ_k σ_l; the field of neuron i is
h_i = Σ_{q ∋ i} T_q Π_{n ∈ q, n ≠ i} σ_n = σ_i Σ_{q ∋ i} T_q Π_{n ∈ q} σ_n (σ_i² = 1), so a synchronous step is
one gather, one product and one scatter-add: O(B·M), never O(D⁴).
"""

from __future__ import annotations

from functools import lru_cache

import torch
from torch import Tensor

from .base import BinaryMemory
from .registry import MemoryKind, register_kind


@lru_cache(maxsize=32)
def random_quadruplets(dim: int, count: int, seed: int) -> Tensor:
    """M = ``count`` quadruplets of 4 distinct neurons each, fixed by ``seed``: (M, 4) long."""
    if dim < 4:
        raise ValueError(f"dim: a quadruplet needs at least 4 neurons, got {dim}")
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(count, dim, generator=generator).argsort(dim=1)[:, :4].contiguous()


def quadruplet_products(indices: Tensor, states: Tensor) -> Tensor:
    """Π_{n ∈ q} σ_n for every quadruplet: (M, 4) long, (B, D) → (B, M)."""
    return states[:, indices].prod(-1)


class QuadrupletMemory(BinaryMemory):
    """E(σ) = -Σ_q T_q Π_{n ∈ q} σ_n over ``indices`` (M, 4) distinct neurons per row and ``couplings`` T (M,)."""

    indices: Tensor  # buffer
    couplings: Tensor  # buffer

    def __init__(self, indices: Tensor, couplings: Tensor, dim: int):
        super().__init__()
        if indices.ndim != 2 or indices.shape[1] != 4 or couplings.shape != (indices.shape[0],):
            raise ValueError(
                f"indices, couplings: expected (M, 4) and (M,), got {tuple(indices.shape)} and {tuple(couplings.shape)}"
            )
        if indices.numel() and (int(indices.min()) < 0 or int(indices.max()) >= dim):
            raise ValueError(f"indices: expected neuron indices in [0, {dim}), got [{indices.min()}, {indices.max()}]")
        self.dim = dim
        self.register_buffer("indices", indices.long())
        self.register_buffer("couplings", couplings)

    @property
    def budget(self) -> int:
        """M: the number of stored couplings (parameters)."""
        return self.indices.shape[0]

    # In float64: Hebbian couplings of ±1 patterns are integers, so energies and fields are exact integer sums (a
    # float32 sum of more than 2²⁴ would round, differently under each summation order).
    def energy(self, states: Tensor) -> Tensor:
        return -(quadruplet_products(self.indices, states.double()) @ self.couplings.double()).to(states.dtype)

    def field(self, states: Tensor) -> Tensor:
        sigma = states.double()
        weighted = quadruplet_products(self.indices, sigma) * self.couplings.double()  # (B, M)
        total = torch.zeros_like(sigma)
        for position in range(4):  # every quadruplet adds its term to each of its 4 neurons
            total.index_add_(1, self.indices[:, position], weighted)
        return (sigma * total).to(states.dtype)


def _from_couplings(stored: Tensor, dim: int, options: dict, separation) -> QuadrupletMemory:
    """T (M,) written on the quadruplets drawn from the rule's ``seed``."""
    indices = random_quadruplets(dim, stored.shape[0], options["seed"])
    return QuadrupletMemory(indices.to(stored.device), stored, dim)


register_kind(
    MemoryKind(
        "quadruplets",
        ("quadruplets",),
        _from_couplings,
        lambda dim, size: size,
        (QuadrupletMemory,),
        "couplings on M random quadruplets",
    )
)
