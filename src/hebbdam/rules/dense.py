"""Hebbian writes that behave like a Dense Associative Memory: random-feature DrDAM and the 4th-order tensor.

- DrDAM (Hoover et al. 2024): the Gaussian-kernel (log-sum-exp) DAM energy
  E(σ) = -β⁻¹ log Σ_μ exp(-β/2 ‖σ - ξ_μ‖²) is approximated with random Fourier features φ, k(x, y) ≈ φ(x)·φ(y), so
  storing is an additive write T ← T + Σ_μ φ(ξ_μ) into a tensor whose size F does not grow with P, and
  E(σ) ≈ -β⁻¹ log(φ(σ)·T). The approximation error falls like 1/√F.
- Neuron–astrocyte (Kozachkov et al. 2025): T_ijkl = D⁻³ Σ_μ ξ_i ξ_j ξ_k ξ_l, kept as its rank-P factors
  u_μ = ξ_μ / D^{3/4} (T = Σ_μ u_μ⊗u_μ⊗u_μ⊗u_μ) and contracted in that form; D⁴ entries are never built.
- The same 4th-order Hebbian write on a budget: only M random index quadruplets carry a coupling (``quadruplets``).
- Its generalisation to a mix of orders (simplicial Hopfield networks, Burns & Fukai 2023): M random simplices of
  ``orders`` neurons in proportions ``shares`` (``simplicial``); ``orders=[2]`` with every edge is the Hebb rule.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..memory.quadruplets import random_quadruplets
from ..memory.random_features import feature_frequencies
from ..memory.simplicial import check_mix, random_complex, simplex_products, with_ghost
from .base import Rule, register_factory


# random Fourier features ------------------------------------------------------------------------------------
def fourier_features(states: Tensor, features: int, beta: float, seed: int) -> Tensor:
    """φ(σ) = [cos(Ωσ), sin(Ωσ)] / √(F/2), Ω (F/2, D) ~ N(0, β I) fixed by ``seed``, so that
    φ(x)·φ(y) → exp(-β/2 ‖x - y‖²) as F grows. (B, D) → (B, F), F = ``features`` (even)."""
    if features < 2 or features % 2:
        raise ValueError(f"features: expected an even number ≥ 2, got {features!r}")
    omega = feature_frequencies(states.shape[1], features, beta, seed).to(states.device)
    angles = states.to(torch.float64) @ omega.T
    phi = torch.cat([angles.cos(), angles.sin()], dim=1) / math.sqrt(features // 2)
    return phi.to(states.dtype)


def gaussian_slot_energy(memories: Tensor, states: Tensor, beta: float) -> Tensor:
    """Exact energy of the slot memory: -β⁻¹ logsumexp_μ(-β/2 ‖σ - ξ_μ‖²). (P, D), (B, D) → (B,)."""
    distances = torch.cdist(states.double(), memories.double()).pow(2)
    return (-torch.logsumexp(-0.5 * beta * distances, dim=1) / beta).to(states.dtype)


def feature_energy(tensor: Tensor, states: Tensor, features: int, beta: float, seed: int) -> Tensor:
    """Random-feature energy -β⁻¹ log(φ(σ)·T), the kernel sum floored at 1e-30. (F,), (B, D) → (B,)."""
    kernel = fourier_features(states.double(), features, beta, seed) @ tensor.double()
    return (-kernel.clamp_min(1e-30).log() / beta).to(states.dtype)


def random_features(features: int = 4096, beta: float = 0.05, seed: int = 0) -> Rule:
    """DrDAM additive write T ← T + Σ_b φ(ξ_b). State (F,)."""

    def update(tensor: Tensor, patterns: Tensor) -> Tensor:
        return tensor + fourier_features(patterns, features, beta, seed).sum(0).to(tensor.dtype)

    def init(dim: int, generator: torch.Generator | None = None) -> Tensor:
        return torch.zeros(features)

    fourier_features(torch.zeros(1, 1), features, beta, seed)  # validates ``features`` now, not at the first write
    hyper = {"features": features, "beta": beta, "seed": seed}
    return Rule("random_features", "local", "features", update, init=init, combine="sum", hyper=hyper)


# 4th-order tensor (neuron–astrocyte) ------------------------------------------------------------------------
def tensor4_write(factors: Tensor, patterns: Tensor) -> Tensor:
    """Append u_b = ξ_b / D^{3/4}: one rank-1 term ξ⊗ξ⊗ξ⊗ξ / D³ per pattern. (P, D), (B, D) → (P + B, D)."""
    return torch.cat([factors, patterns * patterns.shape[1] ** -0.75], dim=0)


def tensor4_field(factors: Tensor, states: Tensor) -> Tensor:
    """h_i = Σ_jkl T_ijkl σ_j σ_k σ_l = Σ_μ u_μi (u_μ·σ)³. (P, D), (B, D) → (B, D)."""
    return (states @ factors.T).pow(3) @ factors


def tensor4_energy(factors: Tensor, states: Tensor) -> Tensor:
    """E = -¼ Σ_ijkl T_ijkl σ_i σ_j σ_k σ_l = -¼ Σ_μ (u_μ·σ)⁴. (P, D), (B, D) → (B,)."""
    return -0.25 * (states @ factors.T).pow(4).sum(-1)


def tensor4_dense(factors: Tensor) -> Tensor:
    """The full tensor (D, D, D, D), for tests at small D only."""
    return torch.einsum("pi,pj,pk,pl->ijkl", factors, factors, factors, factors)


def tensor4() -> Rule:
    return Rule("tensor4", "local", "tensor4", tensor4_write, combine="concat")


# 4th-order tensor on M random quadruplets, and simplices of mixed sizes ------------------------------------
def simplex_write(indices: Tensor, couplings: Tensor, patterns: Tensor) -> Tensor:
    """T_σ += Σ_b Π_{n ∈ σ} ξ_bn: (M, k) long (ghost index D allowed), (M,), (B, D) → (M,)."""
    products = simplex_products(indices.to(patterns.device), with_ghost(patterns))
    return couplings + products.sum(0).to(couplings.dtype)


def quadruplets(count: int = 4096, seed: int = 0) -> Rule:
    """Hebbian write of the 4th-order couplings on M random quadruplets: T_q += Σ_b Π_{n ∈ q} ξ_bn. State (M,).
    Local: each coupling sees only the activity of its own four neurons."""
    if count < 1:
        raise ValueError(f"count: expected a number of quadruplets ≥ 1, got {count!r}")

    def update(couplings: Tensor, patterns: Tensor) -> Tensor:
        return simplex_write(random_quadruplets(patterns.shape[1], count, seed), couplings, patterns)

    def init(dim: int, generator: torch.Generator | None = None) -> Tensor:
        return torch.zeros(count)

    return Rule(
        "quadruplets", "local", "quadruplets", update, init=init, combine="sum", hyper={"count": count, "seed": seed}
    )


def simplicial(
    count: int = 4096, seed: int = 0, orders: tuple[int, ...] = (2, 3), shares: tuple[float, ...] = (0.5, 0.5)
) -> Rule:
    """Hebbian write on M = ``count`` random simplices, ``shares[j]``·M of them with ``orders[j]`` neurons each
    (``memory.simplicial.random_complex``): T_σ += Σ_b Π_{n ∈ σ} ξ_bn. State (M,). Local: each coupling sees only
    the activity of its own neurons."""
    if count < 1:
        raise ValueError(f"count: expected a number of simplices ≥ 1, got {count!r}")
    orders, shares = tuple(int(k) for k in orders), tuple(float(s) for s in shares)
    check_mix(orders, shares)

    def update(couplings: Tensor, patterns: Tensor) -> Tensor:
        return simplex_write(random_complex(patterns.shape[1], count, seed, orders, shares), couplings, patterns)

    def init(dim: int, generator: torch.Generator | None = None) -> Tensor:
        return torch.zeros(count)

    hyper = {"count": count, "seed": seed, "orders": list(orders), "shares": list(shares)}
    return Rule("simplicial", "local", "simplices", update, init=init, combine="sum", hyper=hyper)


register_factory("random_features", random_features)
register_factory("tensor4", tensor4)
register_factory("quadruplets", quadruplets)
register_factory("simplicial", simplicial)
