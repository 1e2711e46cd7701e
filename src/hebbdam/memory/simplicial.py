"""Simplicial Hopfield networks (Burns & Fukai, ICLR 2023): Hebbian couplings on sets of neurons (simplices).

A simplex σ is a set of k distinct neurons (k = 2: an edge, 3: a triangle, 4: a tetrahedron, …); the network holds M
simplices, each with one coupling T_σ, so its parameter count is M whatever the mix of sizes (the connection budget).
E(σ) = -Σ_σ T_σ Π_{n ∈ σ} s_n; the field of neuron i is h_i = Σ_{σ ∋ i} T_σ Π_{n ∈ σ, n ≠ i} s_n
= s_i Σ_{σ ∋ i} T_σ Π_{n ∈ σ} s_n (s_i² = 1), and flipping neuron i changes the energy by 2 s_i h_i, so an
asynchronous update s_i ← sgn(h_i) never raises the energy. The Hebbian write is T_σ = Σ_μ Π_{n ∈ σ} ξ_μn (Burns &
Fukai's w(σ) = N⁻¹ Σ_μ ξ^μ(σ) without the common 1/N, which no sign depends on): integers, so fields are exact.

Mixed sizes share one (M, k_max) index table: a simplex with fewer than k_max neurons is padded with the index D of a
"ghost" neuron whose state is always +1, so its product is unchanged and the ghost's field is dropped. The random
quadruplet memory (``quadruplets.py``) is the case of one size, k = 4.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
from torch import Tensor

from ..seeds import generator_for
from .base import BinaryMemory
from .registry import MemoryKind, register_kind

ALL_SIMPLICES_LIMIT = 2_000_000  # C(D, k) up to which a draw enumerates every k-subset (else: rejection of repeats)


def with_ghost(states: Tensor) -> Tensor:
    """(B, D) → (B, D + 1): the states with the ghost neuron (always +1) appended, in float64."""
    sigma = states.double()
    return torch.cat([sigma, torch.ones_like(sigma[:, :1])], dim=1)


def simplex_products(indices: Tensor, states: Tensor) -> Tensor:
    """Π_{n ∈ σ} s_n for every simplex: (M, k) long, (B, D') → (B, M) (D' = D + 1 where ``indices`` holds ghosts)."""
    return states[:, indices].prod(-1)


def split_budget(count: int, shares: tuple[float, ...]) -> list[int]:
    """M split by ``shares`` (summing to 1): round(share·M) each, the last taking the remainder, so the parts sum to
    exactly M."""
    parts = [round(share * count) for share in shares[:-1]]
    return [*parts, count - sum(parts)]


def distinct_simplices(dim: int, size: int, count: int, generator: torch.Generator) -> Tensor:
    """``count`` distinct k-subsets (k = ``size``) of D neurons, each row ascending, in a random order: (count, k) long.
    Every subset when count = C(D, k) (the complete k-skeleton); a ValueError when count exceeds it."""
    total = math.comb(dim, size)
    if count > total:
        raise ValueError(f"count: {count} simplices of {size} neurons exceed the C({dim}, {size}) = {total} there are")
    if total <= ALL_SIMPLICES_LIMIT:
        every = torch.combinations(torch.arange(dim), size)
        return every[torch.randperm(total, generator=generator)[:count]].contiguous()
    chosen: dict[tuple[int, ...], None] = {}  # insertion-ordered: the first draw of each subset
    while len(chosen) < count:
        rows = torch.rand(2 * count, dim, generator=generator).argsort(dim=1)[:, :size].sort(dim=1).values
        for row in rows.tolist():
            chosen.setdefault(tuple(row), None)
    return torch.tensor(list(chosen)[:count], dtype=torch.long)


def check_mix(orders: tuple[int, ...], shares: tuple[float, ...]) -> None:
    """A ValueError unless ``orders`` are distinct simplex sizes ≥ 2 and ``shares`` one fraction of the budget each,
    summing to 1."""
    if len(orders) != len(shares) or not orders:
        raise ValueError(f"orders, shares: expected two lists of one length, got {list(orders)} and {list(shares)}")
    if any(k < 2 for k in orders) or len(set(orders)) != len(orders):
        raise ValueError(f"orders: expected distinct simplex sizes of at least 2 neurons, got {list(orders)}")
    if any(s < 0 for s in shares) or abs(sum(shares) - 1.0) > 1e-9:
        raise ValueError(f"shares: expected fractions of the budget summing to 1, got {list(shares)}")


@lru_cache(maxsize=32)
def random_complex(dim: int, count: int, seed: int, orders: tuple[int, ...], shares: tuple[float, ...]) -> Tensor:
    """M = ``count`` simplices mixed by size: ``shares[j]``·M distinct simplices of ``orders[j]`` neurons each, drawn
    from a stream seeded by (``seed``, size), padded to k_max columns with the ghost index D: (M, k_max) long."""
    check_mix(orders, shares)
    width = max(orders)
    blocks = []
    for size, part in zip(orders, split_budget(count, shares), strict=True):
        block = distinct_simplices(dim, size, part, generator_for(seed, "simplices", size))
        blocks.append(torch.cat([block, torch.full((part, width - size), dim, dtype=torch.long)], dim=1))
    return torch.cat(blocks).contiguous()


class SimplicialMemory(BinaryMemory):
    """E(s) = -Σ_σ T_σ Π_{n ∈ σ} s_n over ``indices`` (M, k_max) (neurons in [0, D], D the ghost padding) and
    ``couplings`` T (M,)."""

    indices: Tensor  # buffer
    couplings: Tensor  # buffer

    def __init__(self, indices: Tensor, couplings: Tensor, dim: int):
        super().__init__()
        if indices.ndim != 2 or couplings.shape != (indices.shape[0],):
            raise ValueError(
                f"indices, couplings: expected (M, k) and (M,), got {tuple(indices.shape)} and {tuple(couplings.shape)}"
            )
        if indices.numel() and (int(indices.min()) < 0 or int(indices.max()) > dim):
            raise ValueError(f"indices: expected neuron indices in [0, {dim}], got [{indices.min()}, {indices.max()}]")
        self.dim = dim
        self.register_buffer("indices", indices.long())
        self.register_buffer("couplings", couplings)

    @property
    def budget(self) -> int:
        """M: the number of stored couplings (parameters)."""
        return self.indices.shape[0]

    def simplex_sizes(self) -> Tensor:
        """(M,) long: the number of real (non-ghost) neurons of each simplex."""
        return (self.indices < self.dim).sum(dim=1)

    # In float64: Hebbian couplings of ±1 patterns are integers, so energies and fields are exact integer sums (a
    # float32 sum of more than 2²⁴ would round, differently under each summation order).
    def energy(self, states: Tensor) -> Tensor:
        return -(simplex_products(self.indices, with_ghost(states)) @ self.couplings.double()).to(states.dtype)

    def exact_field(self, states: Tensor) -> Tensor:
        """(B, D) → (B, D) float64: h_i = s_i Σ_{σ ∋ i} T_σ Π_{n ∈ σ} s_n (the ghost's column dropped)."""
        sigma = with_ghost(states)
        weighted = simplex_products(self.indices, sigma) * self.couplings.double()  # (B, M)
        total = torch.zeros_like(sigma)
        for position in range(self.indices.shape[1]):  # every simplex adds its term to each of its neurons
            total.index_add_(1, self.indices[:, position], weighted)
        return (sigma * total)[:, : self.dim]

    def field(self, states: Tensor) -> Tensor:
        return self.exact_field(states).to(states.dtype)

    def sweep_fields(self, states: Tensor) -> Tensor:
        """Asynchronous sweeps read these exact fields (``dynamics.field_sweep``; a flip recomputes its state's row)."""
        return self.exact_field(states)


def _from_couplings(stored: Tensor, dim: int, options: dict, separation) -> SimplicialMemory:
    """T (M,) written on the complex drawn from the rule's ``seed``, ``orders`` and ``shares``."""
    indices = random_complex(dim, stored.shape[0], options["seed"], tuple(options["orders"]), tuple(options["shares"]))
    return SimplicialMemory(indices.to(stored.device), stored, dim)


register_kind(
    MemoryKind(
        "simplicial",
        ("simplices",),
        _from_couplings,
        lambda dim, size: size,
        (SimplicialMemory,),
        "Hebbian couplings on M random simplices of mixed sizes (Burns & Fukai 2023)",
    )
)
