"""Modern (continuous) Hopfield network, Ramsauer et al. 2021: one update is softmax attention over the
memories, computed by the fastest correct kernel (fused attention where it applies) or streamed over the
memories with a running log-sum-exp when K is too large to hold the (B, K) weights."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from .base import Memory, check_beta, check_matrix
from .registry import register_kind, slot_kind

SDPA_MAX_HEAD_DIM_CUDA = 256  # the fused CUDA kernels (FlashAttention, cuDNN) take head dimensions up to 256
DEFAULT_CHUNK = 65536

Logits = Callable[[Tensor, Tensor], Tensor]  # (B, D), (k, D) → (B, k) logits of a chunk of memories


def uses_fused_attention(queries: Tensor, keys: Tensor, values: Tensor) -> bool:
    """Whether attention over these tensors dispatches to ``scaled_dot_product_attention``, for every caller
    (:func:`softmax_readout`, :func:`attention`, the E9 softmax mixer): only where SDPA has a fused kernel. On the CPU
    when keys and values have the same width (its flash kernel takes any head dimension but refuses unequal ones and
    falls back to its math path, measured 1.3-1.9× slower than the explicit form at E9's d_key 16, d_value 64), on CUDA
    when both head dimensions are ≤ 256 (beyond, SDPA has no fused kernel and the explicit GEMM-softmax-GEMM is as
    fast). Same floating dtype everywhere, else never."""
    if queries.dtype != keys.dtype or queries.dtype != values.dtype or not queries.is_floating_point():
        return False
    if queries.device.type == "cpu":
        return keys.shape[-1] == values.shape[-1]
    return queries.device.type == "cuda" and max(keys.shape[-1], values.shape[-1]) <= SDPA_MAX_HEAD_DIM_CUDA


def fused_attention_is_streamed(states: Tensor, memories: Tensor, values: Tensor) -> bool:
    """Whether SDPA itself streams the memories: its CPU flash kernel (taken when keys and values have the same
    width) walks the keys in blocks with a running log-sum-exp and never holds the (B, K) weights, so it is the
    bounded-memory path too (measured by ``hebbdam bench``: +7 MiB at K = 10⁶, B = 64, D = 64)."""
    return (
        states.device.type == "cpu"
        and memories.shape[1] == values.shape[1]
        and uses_fused_attention(states, memories, values)
    )


def causal_mask(length: int, device: torch.device, keys: int | None = None) -> Tensor:
    """(L, S) bool (S = ``keys``, L by default), True where query t may read key s (s ≤ t, top-left aligned)."""
    return torch.ones(length, length if keys is None else keys, dtype=torch.bool, device=device).tril()


def explicit_attention(queries: Tensor, keys: Tensor, values: Tensor, scale: float, causal: bool = False) -> Tensor:
    """softmax(scale · Q Kᵀ) V as matmul, softmax, matmul, position t reading s ≤ t only when ``causal``:
    (..., L, d), (..., S, d), (..., S, dv) → (..., L, dv). The definition the fused kernel is tested against."""
    logits = scale * queries @ keys.transpose(-1, -2)
    if causal:
        length, keys_count = logits.shape[-2:]
        logits = logits.masked_fill(~causal_mask(length, logits.device, keys_count), float("-inf"))
    return torch.softmax(logits, dim=-1) @ values


def attention(queries: Tensor, keys: Tensor, values: Tensor, scale: float, causal: bool = False) -> Tensor:
    """softmax(scale · Q Kᵀ) V, causal or not, by ``scaled_dot_product_attention`` where
    :func:`uses_fused_attention` says so, else :func:`explicit_attention`: (..., L, d), (..., S, d), (..., S, dv) →
    (..., L, dv). ``causal`` aligns the masks top-left (query t reads keys 0…t), as SDPA's ``is_causal`` does."""
    if not uses_fused_attention(queries, keys, values):
        return explicit_attention(queries, keys, values, scale, causal)
    return F.scaled_dot_product_attention(queries, keys, values, is_causal=causal, scale=scale)


def gemm_readout(states: Tensor, memories: Tensor, values: Tensor, beta: float) -> Tensor:
    """softmax(β S Ξᵀ) V as two matmuls and in-place elementwise passes: (B, D), (K, D), (K, Dv) → (B, Dv)."""
    logits = torch.mm(states, memories.T).mul_(beta)
    logits.sub_(logits.amax(-1, keepdim=True)).exp_()  # finite at any β: the largest exponent is 0
    total = logits.sum(-1, keepdim=True)
    return torch.mm(logits, values).div_(total)


def softmax_readout(states: Tensor, memories: Tensor, values: Tensor, beta: float) -> Tensor:
    """softmax(β S Ξᵀ) V: (B, D), (K, D), (K, Dv) → (B, Dv). The B queries are attention's sequence axis and the
    K memories its keys, so this is :func:`attention` (SDPA with scale β) where a fused kernel applies, else
    :func:`gemm_readout` (two in-place GEMM passes, faster than the generic explicit form)."""
    if not uses_fused_attention(states, memories, values):
        return gemm_readout(states, memories, values, beta)
    return attention(states[None], memories[None], values[None], beta)[0]


def dot_logits(beta: float) -> Logits:
    """β S Ξᵀ of a chunk: the logits of softmax recall."""
    return lambda states, chunk: torch.mm(states, chunk.T).mul_(beta)


def stream_softmax(
    states: Tensor, memories: Tensor, values: Tensor, logits: Logits, chunk: int = DEFAULT_CHUNK
) -> tuple[Tensor, Tensor]:
    """softmax(logits(S, Ξ)) V and logsumexp(logits), the K memories streamed ``chunk`` rows at a time:
    (B, D), (K, D), (K, Dv) → (B, Dv), (B,).

    A running max, normaliser and weighted sum are rescaled per chunk (online log-sum-exp), so peak extra
    memory is O(B × chunk + B × Dv), not O(B × K); the result equals the one-shot softmax up to rounding.
    """
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"chunk: expected a positive integer, got {chunk!r}")
    batch = states.shape[0]
    running_max = torch.full((batch, 1), float("-inf"), dtype=states.dtype, device=states.device)
    total = torch.zeros(batch, 1, dtype=states.dtype, device=states.device)
    acc = torch.zeros(batch, values.shape[1], dtype=states.dtype, device=states.device)
    for start in range(0, memories.shape[0], chunk):
        weights = logits(states, memories[start : start + chunk])  # (B, chunk): the only big temporary
        new_max = torch.maximum(running_max, weights.amax(-1, keepdim=True))
        correction = torch.exp(running_max - new_max)  # 0 on the first chunk (exp(-inf))
        weights.sub_(new_max).exp_()
        total = total * correction + weights.sum(-1, keepdim=True)
        acc = torch.addmm(acc * correction, weights, values[start : start + chunk])
        running_max = new_max
    return acc / total, (running_max + torch.log(total))[:, 0]


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
        return torch.softmax(self.beta * (states @ self.memories.T), dim=-1)

    def step(self, states: Tensor) -> Tensor:
        chunk = self.chunk
        streamed = chunk is not None and chunk < self.memories.shape[0]
        if chunk is not None and streamed and not fused_attention_is_streamed(states, self.memories, self.values):
            return stream_step(states, self.memories, self.beta, self.values, chunk=chunk)
        return softmax_readout(states, self.memories, self.values, self.beta)


register_kind(slot_kind("softmax", ModernHopfield, "a memory matrix Ξ (K, D) read by softmax attention"))
