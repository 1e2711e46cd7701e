"""Modern (continuous) Hopfield network, Ramsauer et al. 2021: one update is softmax attention over the
memories, computed by the fastest correct kernel (fused attention where it applies) or streamed over the
memories with a running log-sum-exp when K is too large to hold the (B, K) weights: the softmax read of the recall
core (``memory.core``), which holds those kernels."""

from __future__ import annotations

import torch
from torch import Tensor

from .base import Memory, check_beta, check_matrix
from .core import (
    DEFAULT_CHUNK,
    dot_logits,
    fused_attention_is_streamed,
    separate,
    softmax_readout,
    stream_softmax,
)
from .registry import register_kind, slot_kind


def stream_step(
    states: Tensor, memories: Tensor, beta: float, values: Tensor | None = None, chunk: int = DEFAULT_CHUNK
) -> Tensor:
    """softmax(β S Ξᵀ) V streamed over chunks of memories: (B, D), (K, D) → (B, Dv); see :func:`stream_softmax`."""
    return stream_softmax(states, memories, memories if values is None else values, dot_logits(beta), chunk)[0]


def stream_logsumexp(states: Tensor, memories: Tensor, beta: float, chunk: int = DEFAULT_CHUNK) -> Tensor:
    """(B, D), (K, D) → (B,) logsumexp_μ(β ξ_μ·σ), streamed in chunks of memories (for the softmax energy)."""
    return stream_softmax(states, memories, memories[:, :0], dot_logits(beta), chunk)[1]


class ModernHopfield(Memory):
    """E(σ) = -β⁻¹ log Σ_μ exp(β ξ_μ·σ) + ½‖σ‖² (Ramsauer's constants dropped); σ ← Ξᵀ softmax(β Ξσ).

    ``memories`` Ξ (K, D); ``values`` (K, Dv) for hetero-association (then ``step`` maps D → Dv, no energy).
    ``chunk``: stream the memories in chunks of this many rows (bounded memory for huge K, :func:`stream_step`),
    unless the fused kernel streams them itself (:func:`fused_attention_is_streamed`).
    """

    memories: Tensor  # buffer
    values: Tensor  # buffer

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
        return separate(states @ self.memories.T, "softmax", self.beta)

    def step(self, states: Tensor) -> Tensor:
        chunk = self.chunk
        streamed = chunk is not None and chunk < self.memories.shape[0]
        if chunk is not None and streamed and not fused_attention_is_streamed(states, self.memories, self.values):
            return stream_step(states, self.memories, self.beta, self.values, chunk=chunk)
        return softmax_readout(states, self.memories, self.values, self.beta)


register_kind(slot_kind("softmax", ModernHopfield, "a memory matrix Ξ (K, D) read by softmax attention"))
