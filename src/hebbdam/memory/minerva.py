"""MINERVA 2 (Hintzman 1984): the echo of a probe is a cubed-similarity-weighted sum of the stored traces."""

from __future__ import annotations

from torch import Tensor

from .base import Memory, check_matrix
from .registry import register_kind, slot_kind

EPS = 1e-12  # guards the cosine of an all-zero trace or probe


class Minerva2(Memory):
    """echo(σ) = Σ_μ ξ_μ cos(ξ_μ, σ)³; ``traces`` Ξ (P, D). Equals the n = 4 DAM update on unit vectors.

    Hintzman's similarity divides by the number of relevant (non-zero) features; for full ±1 vectors that is D
    and equals the cosine. ``intensity`` is Σ_μ cos³, the familiarity signal.
    """

    traces: Tensor  # buffer

    def __init__(self, traces: Tensor, power: int = 3):
        super().__init__()
        check_matrix(traces, "traces")
        if isinstance(power, bool) or not isinstance(power, int) or power < 1 or power % 2 == 0:
            raise ValueError(f"power: expected an odd integer ≥ 1 (Hintzman uses 3), got {power!r}")
        self.dim = traces.shape[1]
        self.power = power
        self.register_buffer("traces", traces)

    def activations(self, states: Tensor) -> Tensor:
        """(B, D) → (B, P) cos(ξ_μ, σ)^power."""
        norms = states.norm(dim=-1, keepdim=True).clamp_min(EPS) * self.traces.norm(dim=-1).clamp_min(EPS)
        return ((states @ self.traces.T) / norms) ** self.power

    def intensity(self, states: Tensor) -> Tensor:
        return self.activations(states).sum(-1)

    def step(self, states: Tensor) -> Tensor:
        return self.activations(states) @ self.traces


register_kind(slot_kind("minerva", Minerva2, "traces Ξ (P, D) (MINERVA 2)"))
