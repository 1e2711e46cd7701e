"""Random-feature Dense Associative Memory (DrDAM, Hoover et al. 2024) beside its exact slot energy.

The exact model keeps every memory (a slot each):  E(σ) = -β⁻¹ log Σ_μ exp(-β/2 ‖σ - ξ_μ‖²).
DrDAM replaces the Gaussian kernel by random Fourier features, φ(x)·φ(y) ≈ exp(-β/2 ‖x - y‖²), with
φ(x) = [cos Ωx, sin Ωx] / √Y, Ω (Y, D) ~ N(0, β I). Storing is an additive write into a constant-size tensor
T = Σ_μ φ(ξ_μ) (2Y,), whatever the number of memories: E(σ) ≈ -β⁻¹ log(φ(σ)·T).

For both, one ``step`` is σ ← σ - ∇E(σ): for the exact model that is the softmax-weighted mean Σ_μ w_μ ξ_μ
(the attention update); gradient descent with a smaller step is ``relax(mode="gradient")``.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
from torch import Tensor

from .base import Memory, check_beta, check_matrix
from .core import softmax_read
from .registry import MemoryKind, register_kind, slot_kind

KERNEL_FLOOR = 1e-30  # φ(σ)·T is an estimate and can dip below 0 far from every memory; the log is floored here


@lru_cache(maxsize=32)
def _frequencies(dim: int, features: int, beta: float, seed: int) -> Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(features // 2, dim, generator=generator, dtype=torch.float64) * math.sqrt(beta)


def feature_frequencies(dim: int, features: int, beta: float, seed: int) -> Tensor:
    """The frequencies Ω (F/2, D) ~ N(0, β I), float64, fixed by ``seed``: the random-feature rule's draw
    (``rules.dense.fourier_features``) and the memory built from its tensor."""
    return _frequencies(dim, features, float(beta), int(seed))


class GaussianDAM(Memory):
    """Exact slot energy over ``memories`` Ξ (K, D): E(σ) = -β⁻¹ logsumexp_μ(-β/2 ‖σ - ξ_μ‖²)."""

    memories: Tensor  # buffer

    def __init__(self, memories: Tensor, beta: float = 1.0):
        super().__init__()
        check_matrix(memories, "memories")
        self.dim = memories.shape[1]
        self.beta = check_beta(beta)
        self.register_buffer("memories", memories)

    def logits(self, states: Tensor) -> Tensor:
        """(B, D) → (B, K): -β/2 ‖σ - ξ_μ‖²."""
        sq = states.square().sum(-1, keepdim=True) - 2.0 * states @ self.memories.T + self.memories.square().sum(-1)
        return -0.5 * self.beta * sq

    def energy(self, states: Tensor) -> Tensor:
        return -torch.logsumexp(self.logits(states), dim=-1) / self.beta

    def step(self, states: Tensor) -> Tensor:
        return softmax_read(self.logits(states), self.memories)


class RandomFeatureDAM(Memory):
    """DrDAM: a (2 ``features``,) memory tensor T written additively. ``generator`` fixes Ω."""

    omega: Tensor  # buffer
    memory: Tensor  # buffer

    def __init__(
        self,
        dim: int,
        features: int = 4096,
        beta: float = 1.0,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float32,
    ):
        super().__init__()
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise ValueError(f"dim: expected a positive integer, got {dim!r}")
        if isinstance(features, bool) or not isinstance(features, int) or features < 1:
            raise ValueError(f"features: expected a positive integer, got {features!r}")
        self.dim = dim
        self.beta = check_beta(beta)
        omega = torch.randn(features, dim, generator=generator, dtype=torch.float64) * math.sqrt(self.beta)
        self.register_buffer("omega", omega.to(dtype))
        self.register_buffer("memory", torch.zeros(2 * features, dtype=dtype))
        self.count = 0

    @classmethod
    def from_tensor(cls, omega: Tensor, memory: Tensor, beta: float) -> RandomFeatureDAM:
        """The memory with given frequencies Ω (Y, D) and tensor T (2Y,) (e.g. a rule's write or a trained one)."""
        if omega.ndim != 2 or memory.shape != (2 * omega.shape[0],):
            raise ValueError(
                f"omega, memory: expected (Y, D) and (2Y,), got {tuple(omega.shape)}, {tuple(memory.shape)}"
            )
        dam = cls(omega.shape[1], omega.shape[0], beta, dtype=memory.dtype)
        dam.omega, dam.memory = omega.to(memory.dtype), memory.clone()
        return dam

    @property
    def features(self) -> int:
        return self.omega.shape[0]

    def feature_map(self, x: Tensor) -> Tensor:
        """(B, D) → (B, 2Y) random Fourier features of the Gaussian kernel exp(-β/2 ‖x - y‖²)."""
        angles = x @ self.omega.T
        return torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1) / math.sqrt(self.features)

    def write(self, patterns: Tensor) -> RandomFeatureDAM:
        """Add ``patterns`` (P, D) to the memory: T += Σ_μ φ(ξ_μ). Returns self."""
        check_matrix(patterns, "patterns", dim=self.dim)
        self.memory += self.feature_map(patterns.to(self.memory.dtype)).sum(0)
        self.count += patterns.shape[0]
        return self

    def kernel_sum(self, states: Tensor) -> Tensor:
        """(B, D) → (B,) φ(σ)·T ≈ Σ_μ exp(-β/2 ‖σ - ξ_μ‖²)."""
        return self.feature_map(states) @ self.memory

    def energy(self, states: Tensor) -> Tensor:
        return -torch.log(self.kernel_sum(states).clamp_min(KERNEL_FLOOR)) / self.beta

    def grad_energy(self, states: Tensor) -> Tensor:
        """(B, D) → (B, D) analytic ∇E = -(β φ(σ)·T)⁻¹ Ωᵀ[-sin(Ωσ) ⊙ T_cos + cos(Ωσ) ⊙ T_sin] / √Y."""
        angles = states @ self.omega.T
        cos, sin = torch.cos(angles), torch.sin(angles)
        t_cos, t_sin = self.memory[: self.features], self.memory[self.features :]
        total = ((cos * t_cos + sin * t_sin).sum(-1, keepdim=True) / math.sqrt(self.features)).clamp_min(KERNEL_FLOOR)
        grad_total = ((cos * t_sin - sin * t_cos) @ self.omega) / math.sqrt(self.features)
        return -grad_total / (self.beta * total)

    def step(self, states: Tensor) -> Tensor:
        return states - self.grad_energy(states)


def _from_features(stored: Tensor, dim: int, options: dict, separation) -> RandomFeatureDAM:
    """T (F,) written by the random-feature rule, with Ω drawn from the rule's ``features``, ``beta`` and ``seed``."""
    omega = feature_frequencies(dim, options["features"], options["beta"], options["seed"])
    return RandomFeatureDAM.from_tensor(omega.to(stored.device), stored, options["beta"])


register_kind(
    MemoryKind(
        "random_features",
        ("features",),
        _from_features,
        lambda dim, size: 2 * size,
        (RandomFeatureDAM,),
        "a random-feature tensor T (2Y,) (DrDAM)",
    )
)
register_kind(slot_kind("gaussian", GaussianDAM, "a slot memory Ξ (P, D) with the Gaussian-kernel energy"))
