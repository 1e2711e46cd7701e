"""Modern (continuous) Hopfield network, Ramsauer et al. 2021: one update is softmax attention over the
memories."""

from __future__ import annotations

import torch
from torch import Tensor

from .base import Memory, check_beta, check_matrix


def softmax_readout(states: Tensor, memories: Tensor, values: Tensor, beta: float) -> Tensor:
    """softmax(β S Ξᵀ) V: (B, D), (K, D), (K, Dv) → (B, Dv); exactly two matmuls plus in-place elementwise
    passes."""
    logits = torch.mm(states, memories.T).mul_(beta)
    logits.sub_(logits.amax(-1, keepdim=True)).exp_()  # finite at any β: the largest exponent is 0
    total = logits.sum(-1, keepdim=True)
    return torch.mm(logits, values).div_(total)


class ModernHopfield(Memory):
    """E(σ) = -β⁻¹ log Σ_μ exp(β ξ_μ·σ) + ½‖σ‖² (Ramsauer's constants dropped); σ ← Ξᵀ softmax(β Ξσ).

    ``memories`` Ξ (K, D); ``values`` (K, Dv) for hetero-association (then ``step`` maps D → Dv, no energy).
    ``chunk``: stream the memories in chunks of this many rows (bounded memory for huge K,
    ``dynamics.stream_step``).
    """

    def __init__(self, memories: Tensor, beta: float = 1.0, values: Tensor | None = None, chunk: int | None = None):
        super().__init__()
        check_matrix(memories, "memories")
        self.beta = check_beta(beta)
        self.dim = memories.shape[1]
        self.hetero = values is not None
        if values is not None:
            check_matrix(values, "values")
            if values.shape[0] != memories.shape[0]:
                raise ValueError(f"values: expected {memories.shape[0]} rows (one per memory), got {values.shape[0]}")
        if chunk is not None and (isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1):
            raise ValueError(f"chunk: expected a positive integer or None, got {chunk!r}")
        self.chunk = chunk
        self.register_buffer("memories", memories)
        self.register_buffer("values", memories if values is None else values)

    def energy(self, states: Tensor) -> Tensor:
        lse = torch.logsumexp(self.beta * (states @ self.memories.T), dim=-1)
        return -lse / self.beta + 0.5 * states.square().sum(-1)

    def attention(self, states: Tensor) -> Tensor:
        """(B, D) → (B, K) softmax(β S Ξᵀ), the separation weights of each memory."""
        return torch.softmax(self.beta * (states @ self.memories.T), dim=-1)

    def step(self, states: Tensor) -> Tensor:
        if self.chunk is not None and self.chunk < self.memories.shape[0]:
            from ..dynamics import stream_step

            return stream_step(states, self.memories, self.beta, self.values, chunk=self.chunk)
        return softmax_readout(states, self.memories, self.values, self.beta)
