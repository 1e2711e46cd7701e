"""A fourth-order memory on a budget: M random index quadruplets instead of the full D⁴ tensor.

The neuron–astrocyte memory (``astrocyte.py``) couples every quadruplet of neurons; here only M fixed quadruplets
q = (i, j, k, l) of distinct neurons carry a coupling T_q, so the stored tensor has exactly M entries whatever the
number of patterns (a diluted 4th-order network). E(σ) = -Σ_q T_q σ_i σ_j σ_k σ_l; the field of neuron i is
h_i = Σ_{q ∋ i} T_q Π_{n ∈ q, n ≠ i} σ_n = σ_i Σ_{q ∋ i} T_q Π_{n ∈ q} σ_n (σ_i² = 1), so a synchronous step is
one gather, one product and one scatter-add: O(B·M), never O(D⁴). It is the simplicial memory (``simplicial.py``)
with one simplex size, k = 4, and its own draw (independent rows, so a quadruplet may repeat).
"""

from __future__ import annotations

from functools import lru_cache

import torch
from torch import Tensor

from .registry import MemoryKind, register_kind
from .simplicial import SimplicialMemory


@lru_cache(maxsize=32)
def random_quadruplets(dim: int, count: int, seed: int) -> Tensor:
    """M = ``count`` quadruplets of 4 distinct neurons each, fixed by ``seed``: (M, 4) long."""
    if dim < 4:
        raise ValueError(f"dim: a quadruplet needs at least 4 neurons, got {dim}")
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(count, dim, generator=generator).argsort(dim=1)[:, :4].contiguous()


class QuadrupletMemory(SimplicialMemory):
    """The simplicial memory with one simplex size, k = 4: ``indices`` (M, 4) distinct neurons per row, ``couplings``
    T (M,); E(σ) = -Σ_q T_q Π_{n ∈ q} σ_n."""

    def __init__(self, indices: Tensor, couplings: Tensor, dim: int):
        if indices.ndim != 2 or indices.shape[1] != 4:
            raise ValueError(f"indices: expected (M, 4) quadruplets, got {tuple(indices.shape)}")
        if indices.numel() and int(indices.max()) >= dim:
            raise ValueError(f"indices: expected neuron indices in [0, {dim}), got [{indices.min()}, {indices.max()}]")
        super().__init__(indices, couplings, dim)


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
