"""The one recall core: a memory's read is a separation of scores followed by a projection, out = sep(scores) V
(Millidge et al. 2022's out = P · sep(sim(M, q)); hopfield-layers keeps the same one functional core behind its
layers). Every memory, experiment and Lightning module reads through these functions:

- separation: scores (B, K), one per memory on the last axis → weights (B, K): :func:`softmax_weights`
  (softmax(logits)), :func:`max_weights` (one-hot argmax), :func:`separate` (the Universal Hopfield Network's
  identity / power / softmax / max), :func:`normalised_separate` (Millidge et al.'s code: identity and power on
  non-negative closeness, normalised to sum 1), :func:`unit_activity` (a DAM separation's f = F', or the softmax of
  the exponential) and :func:`separation_weights` (the same normalised);
- projection: weights (B, K), values (K, Dv) → (B, Dv), :func:`project`; both at once :func:`softmax_read` and
  :func:`unit_read` (K hidden units: keys score, values write);
- the same softmax read computed faster: fused attention (:func:`attention`, :func:`softmax_readout`), two in-place
  GEMM passes (:func:`gemm_readout`) and streamed over chunks of memories with a running log-sum-exp
  (:func:`stream_softmax`), each tested against :func:`softmax_read`.

Only the functions live here; the models (``memory.softmax``, ``memory.universal``, ...) hold their parameters.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from ..settings.catalogue import UHN_SEPARATIONS
from .separation import Exponential, Separation

SEPARATIONS = UHN_SEPARATIONS  # identity, power, softmax, max (named in the catalogue the settings schemas read)


# separation -------------------------------------------------------------------------------------------------------
def softmax_weights(logits: Tensor) -> Tensor:
    """(..., K) → (..., K) softmax over the memories (the last axis): each row sums to 1."""
    return torch.softmax(logits, dim=-1)


def max_weights(scores: Tensor) -> Tensor:
    """(..., K) → (..., K) one-hot at the most similar memory (the first of equals)."""
    return torch.zeros_like(scores).scatter_(-1, scores.argmax(-1, keepdim=True), 1.0)


def normalise(weights: Tensor, floor: float) -> Tensor:
    """(..., K) non-negative weights divided by their row sum (at least ``floor``, so an all-zero row stays zero)."""
    return weights / weights.sum(-1, keepdim=True).clamp_min(floor)


def separate(scores: Tensor, separation: str, beta: float = 1.0, power: int = 2) -> Tensor:
    """The Universal Hopfield Network's separation of raw scores (B, K) → weights (B, K): ``identity`` (the scores),
    ``power`` (scores ** power), ``softmax`` (softmax(β scores)), ``max`` (one-hot argmax)."""
    if separation == "identity":
        return scores
    if separation == "power":
        return scores**power
    if separation == "softmax":
        return softmax_weights(beta * scores)
    if separation == "max":
        return max_weights(scores)
    raise ValueError(f"separation: expected one of {', '.join(SEPARATIONS)}, got {separation!r}")


def closeness(scores: Tensor, distance: bool, floor: float) -> Tensor:
    """(B, K) non-negative closeness: 1 / distance for scores that are negated distances (at most 1 / ``floor``),
    else the scores clamped at 0."""
    return 1.0 / (-scores).clamp_min(floor) if distance else scores.clamp_min(0.0)


def normalised_separate(
    scores: Tensor, separation: str, beta: float, power: int, distance: bool, floor: float
) -> Tensor:
    """Millidge et al.'s separation (their code's ``general_update_rule`` with ``norm=True``): softmax and max as
    :func:`separate`; identity and power as w ∝ c^k over the :func:`closeness` c (k = 1 for identity), divided by
    the row maximum before the power (1/distance^k cannot overflow float32) and normalised to sum 1. (B, K) → (B, K)."""
    if separation in ("softmax", "max"):
        return separate(scores, separation, beta, power)
    near = closeness(scores, distance, floor)
    k = 1 if separation == "identity" else power
    weights = (near / near.amax(-1, keepdim=True).clamp_min(floor)) ** k
    return normalise(weights, floor)


def unit_activity(scores: Tensor, separation: Separation) -> Tensor:
    """A DAM separation's hidden activities (B, K) ≥ 0 of scaled overlaps s (B, K): F'(s) for a power,
    softmax(β s) for the exponential (log-space, finite at any β; the same direction as e^{β s} per row)."""
    if isinstance(separation, Exponential):
        return softmax_weights(separation.beta * scores)
    return separation.derivative(scores)


def separation_weights(scores: Tensor, separation: Separation) -> Tensor:
    """A DAM separation's hidden activities (B, K) of scaled overlaps s (B, K), summing to 1 per row:
    :func:`unit_activity` normalised (the softmax already is; all-zero rows stay zero)."""
    activity = unit_activity(scores, separation)
    if isinstance(separation, Exponential):
        return activity
    return normalise(activity, torch.finfo(activity.dtype).tiny)


# projection -------------------------------------------------------------------------------------------------------
def project(weights: Tensor, values: Tensor) -> Tensor:
    """weights (..., K), values (..., K, Dv) → (..., Dv): Σ_μ w_μ v_μ."""
    return weights @ values


def unit_read(states: Tensor, keys: Tensor, values: Tensor, separation: Separation) -> Tensor:
    """One read of a memory of K hidden units (a bipartite DAM with tied or untied weights): keys (K, D) score the
    states (B, D) by scaled overlaps s = k·σ / D, :func:`separation_weights` separates them and the values (K, Dv)
    are projected: (B, D) → (B, Dv). Differentiable in the keys and values."""
    return project(separation_weights(states @ keys.T / states.shape[1], separation), values)


def softmax_read(logits: Tensor, values: Tensor) -> Tensor:
    """softmax(logits) V, matmul after softmax: (..., K), (..., K, Dv) → (..., Dv). The definition every faster form
    of the softmax read below is tested against."""
    return project(softmax_weights(logits), values)


# the softmax read, fused and streamed -----------------------------------------------------------------------------
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
    return softmax_read(logits, values)


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
