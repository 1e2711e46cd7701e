"""Token mixers as associative memories: the sequence-model face of the Hebbian / DAM models (experiment E9).

A causal token mixer reads, at every position t, a memory written by the key–value pairs (k_s, v_s), s ≤ t:

- :class:`SoftmaxMemory`: softmax attention, i.e. one step of a softmax DAM (``memory.softmax``) whose memories are
  the keys so far; its state is the whole key/value cache, so it grows with the sequence.
- :class:`SumMemory`: the Hebbian outer-product (fast-weight) memory M = Σ_s φ(k_s)ᵀ v_s read as φ(q) M, optionally
  divided by φ(q)·Σ_s φ(k_s) (linear attention; Katharopoulos et al. 2020 with φ = elu + 1). With a polynomial
  feature map (DPFP, Taylor-2) it is a polynomial DAM written by a Hebbian sum in feature space; with positive random
  features (Performer FAVOR+) a random-feature DAM (DrDAM).
- :class:`DeltaMemory`: the error-correcting (Widrow–Hoff) write M ← M + β φ(k)ᵀ (v - φ(k) M) (Schlag, Irie &
  Schmidhuber 2021; DeltaNet), keys and queries L2-normalised after φ.

Shapes: queries Q (B, L, d), keys K (B, L, d), values V (B, L, dv), write strengths β (B, L); outputs (B, L, dv).
Each memory has a recurrent form (``init_state`` / ``write`` / ``read``, one position at a time, the definition) and a
parallel or chunked form (``parallel``, the fast path); tests check that they agree. ``final_state`` + ``read`` give
the answers to queries asked after all writes (the synthetic retrieval task). Memory states are rows: φ(k) (p,) → v
(dv,), M (B, p, dv).
"""

from __future__ import annotations

import math
from typing import Protocol, TypeVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..settings.catalogue import FEATURE_MAPS
from .core import attention, causal_mask

NORMALISER_EPS = 1e-6  # linear attention's φ(q)·z + ε (Schlag et al.'s value)


class FeatureMap(nn.Module):
    """φ: (..., d) → (..., p). ``identity``; ``elu`` (elu + 1); ``dpfp`` (ν): Schlag et al.'s deterministic
    parameter-free projection, p = 2νd; ``taylor2``: [1, x/d^¼, vec(x xᵀ)/(√2 √d)] so φ(q)·φ(k) = 1 + q·k/√d +
    (q·k)²/2d, the second-order Taylor expansion of exp(q·k/√d) (Based), p = 1 + d + d²; ``favor`` (m): positive
    random features exp(ωᵢ·x - ‖x‖²/2) and exp(-ωᵢ·x - ‖x‖²/2) over √(2m), x = input / d^¼, Ω (m, d) ~ N(0, I) fixed by
    ``seed`` (Performer FAVOR+; a random-feature estimate of exp(q·k/√d)), p = 2m.
    """

    omega: Tensor  # buffer

    def __init__(self, kind: str, dim: int, order: int = 1, features: int = 64, seed: int = 0):
        super().__init__()
        if kind not in FEATURE_MAPS:
            raise ValueError(f"feature map: expected one of {', '.join(FEATURE_MAPS)}, got {kind!r}")
        self.kind, self.dim, self.order = kind, dim, order
        if kind == "favor":
            omega = torch.randn(features, dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
            self.register_buffer("omega", omega.float())

    @property
    def size(self) -> int:
        """p, the number of features."""
        return {
            "identity": self.dim,
            "elu": self.dim,
            "dpfp": 2 * self.order * self.dim,
            "taylor2": 1 + self.dim + self.dim**2,
            "favor": 2 * self.omega.shape[0] if self.kind == "favor" else 0,
        }[self.kind]

    @property
    def nonnegative(self) -> bool:
        return self.kind != "identity"

    def forward(self, x: Tensor) -> Tensor:
        if self.kind == "identity":
            return x
        if self.kind == "elu":
            return F.elu(x) + 1.0
        if self.kind == "dpfp":
            both = torch.cat([F.relu(x), F.relu(-x)], dim=-1)
            return torch.cat([both * both.roll(shifts=j, dims=-1) for j in range(1, self.order + 1)], dim=-1)
        x = x / self.dim**0.25
        if self.kind == "taylor2":
            outer = (x.unsqueeze(-1) * x.unsqueeze(-2)).flatten(-2) / math.sqrt(2.0)
            return torch.cat([torch.ones_like(x[..., :1]), x, outer], dim=-1)
        angles = x @ self.omega.to(x.dtype).T
        half_norm = 0.5 * x.square().sum(-1, keepdim=True)
        scale = math.sqrt(2 * self.omega.shape[0])
        return torch.cat([torch.exp(angles - half_norm), torch.exp(-angles - half_norm)], dim=-1) / scale


class SoftmaxMemory(nn.Module):
    """Softmax attention = one softmax-DAM step over the keys so far, inverse temperature ``beta`` (1/√d when
    None). State: the key and value cache, (t, d + dv) per sequence: it grows with the sequence. Both forms go
    through ``memory.core.attention`` (fused SDPA where it applies, the dispatch rule of softmax recall)."""

    rule = "softmax"

    def __init__(self, dim: int, beta: float | None = None):
        super().__init__()
        self.dim = dim
        self.beta = 1.0 / math.sqrt(dim) if beta is None else float(beta)
        self.feature_size = dim

    def state_size(self, value_dim: int, length: int) -> int:
        return length * (self.dim + value_dim)

    def parallel(self, q: Tensor, k: Tensor, v: Tensor, beta: Tensor | None = None) -> Tensor:
        return attention(q, k, v, self.beta, causal=True)

    def init_state(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        return k[:, :0], v[:, :0]

    def write(self, state, k: Tensor, v: Tensor, beta: Tensor | None = None):
        """(B, d), (B, dv): append one key/value pair to the cache."""
        keys, values = state
        return torch.cat([keys, k.unsqueeze(1)], 1), torch.cat([values, v.unsqueeze(1)], 1)

    def read(self, state, q: Tensor) -> Tensor:
        """q (B, d) or (B, Q, d) → (B, dv) or (B, Q, dv): one softmax-DAM step per sequence."""
        keys, values = state
        single = q.ndim == 2
        out = attention(q.unsqueeze(1) if single else q, keys, values, self.beta)
        return out.squeeze(1) if single else out

    def final_state(self, k: Tensor, v: Tensor, beta: Tensor | None = None):
        return k, v


class SumMemory(nn.Module):
    """Hebbian outer-product memory M = Σ_s φ(k_s)ᵀ v_s (p, dv), read φ(q) M, divided by φ(q)·z with
    z = Σ_s φ(k_s) when ``normalise`` (linear attention). State: p·dv (+ p for z) numbers, whatever the length."""

    rule = "sum"

    def __init__(self, feature_map: FeatureMap, normalise: bool = True):
        super().__init__()
        self.phi = feature_map
        self.normalise = normalise
        self.feature_size = feature_map.size

    def state_size(self, value_dim: int, length: int) -> int:
        return self.feature_size * value_dim + (self.feature_size if self.normalise else 0)

    def _divide(self, numerator: Tensor, denominator: Tensor) -> Tensor:
        return numerator / (denominator.unsqueeze(-1) + NORMALISER_EPS) if self.normalise else numerator

    def parallel(self, q: Tensor, k: Tensor, v: Tensor, beta: Tensor | None = None) -> Tensor:
        scores = (self.phi(q) @ self.phi(k).transpose(-1, -2)) * causal_mask(q.shape[1], q.device)
        return self._divide(scores @ v, scores.sum(-1))

    def init_state(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        batch = k.shape[0]
        memory = k.new_zeros(batch, self.feature_size, v.shape[-1])
        return memory, k.new_zeros(batch, self.feature_size)

    def write(self, state, k: Tensor, v: Tensor, beta: Tensor | None = None):
        """(B, d), (B, dv): M += φ(k)ᵀ v, z += φ(k)."""
        memory, total = state
        fk = self.phi(k)
        return memory + fk.unsqueeze(-1) * v.unsqueeze(-2), total + fk

    def read(self, state, q: Tensor) -> Tensor:
        """q (B, d) or (B, Q, d) → (B, dv) or (B, Q, dv)."""
        memory, total = state
        fq = self.phi(q)
        if fq.ndim == 2:
            return self._divide(torch.einsum("bp,bpv->bv", fq, memory), (fq * total).sum(-1))
        return self._divide(fq @ memory, (fq @ total.unsqueeze(-1)).squeeze(-1))

    def final_state(self, k: Tensor, v: Tensor, beta: Tensor | None = None):
        fk = self.phi(k)
        return fk.transpose(-1, -2) @ v, fk.sum(1)


class DeltaMemory(nn.Module):
    """Delta-rule memory M ← M + β_t k̂_tᵀ (v_t - k̂_t M), k̂ = φ(k)/‖φ(k)‖, read q̂ M with q̂ = φ(q)/‖φ(q)‖.
    ``parallel`` is the chunked form (``chunk`` positions at a time, WY/UT form of DeltaNet, Yang et al. 2024): within
    a chunk with start state M₀, the corrections U (C, dv) solve (I + diag β · strictly-lower(K̂K̂ᵀ)) U =
    diag β (V - K̂M₀); outputs Q̂M₀ + lower(Q̂K̂ᵀ) U, end state M₀ + K̂ᵀU. State: p·dv numbers."""

    rule = "delta"

    def __init__(self, feature_map: FeatureMap, chunk: int = 32):
        super().__init__()
        self.phi = feature_map
        self.chunk = chunk
        self.feature_size = feature_map.size

    def state_size(self, value_dim: int, length: int) -> int:
        return self.feature_size * value_dim

    def features(self, x: Tensor) -> Tensor:
        return F.normalize(self.phi(x), dim=-1)

    @staticmethod
    def _strengths(beta: Tensor | None, k: Tensor) -> Tensor:
        return k.new_ones(k.shape[:-1]) if beta is None else beta

    def _chunks(self, q: Tensor | None, k: Tensor, v: Tensor, beta: Tensor | None):
        """Run the chunked recursion; yields (outputs of the chunk or None, state after it)."""
        fk = self.features(k)
        fq = None if q is None else self.features(q)
        beta = self._strengths(beta, k)
        memory = fk.new_zeros(k.shape[0], fk.shape[-1], v.shape[-1])
        for start in range(0, k.shape[1], self.chunk):
            part = slice(start, start + self.chunk)
            kc, vc, bc = fk[:, part], v[:, part], beta[:, part].unsqueeze(-1)
            size = kc.shape[1]
            lower = torch.ones(size, size, dtype=torch.bool, device=k.device).tril(-1)
            system = torch.eye(size, dtype=kc.dtype, device=k.device) + bc * (kc @ kc.transpose(-1, -2)) * lower
            corrections = torch.linalg.solve_triangular(
                system, bc * (vc - kc @ memory), upper=False, unitriangular=True
            )
            out = None
            if fq is not None:
                qc = fq[:, part]
                inclusive = causal_mask(size, k.device)
                out = qc @ memory + ((qc @ kc.transpose(-1, -2)) * inclusive) @ corrections
            memory = memory + kc.transpose(-1, -2) @ corrections
            yield out, memory

    def parallel(self, q: Tensor, k: Tensor, v: Tensor, beta: Tensor | None = None) -> Tensor:
        return torch.cat([out for out, _ in self._chunks(q, k, v, beta)], dim=1)

    def init_state(self, k: Tensor, v: Tensor) -> Tensor:
        return k.new_zeros(k.shape[0], self.feature_size, v.shape[-1])

    def write(self, memory: Tensor, k: Tensor, v: Tensor, beta: Tensor | None = None) -> Tensor:
        """(B, d), (B, dv), β (B,): M += β k̂ᵀ (v - k̂ M)."""
        fk = self.features(k)
        beta = self._strengths(beta, fk)
        error = v - torch.einsum("bp,bpv->bv", fk, memory)
        return memory + beta[:, None, None] * fk.unsqueeze(-1) * error.unsqueeze(-2)

    def read(self, memory: Tensor, q: Tensor) -> Tensor:
        fq = self.features(q)
        return torch.einsum("bp,bpv->bv", fq, memory) if fq.ndim == 2 else fq @ memory

    def final_state(self, k: Tensor, v: Tensor, beta: Tensor | None = None) -> Tensor:
        *_, (_, memory) = self._chunks(None, k, v, beta)
        return memory


Mixer = SoftmaxMemory | SumMemory | DeltaMemory  # what build_memory returns

State = TypeVar("State")


class Recurrent(Protocol[State]):
    """A mixer's recurrent form over its own state type (a key/value cache, (M, z) or M)."""

    def init_state(self, k: Tensor, v: Tensor) -> State: ...

    def write(self, state: State, k: Tensor, v: Tensor, beta: Tensor | None = None) -> State: ...

    def read(self, state: State, q: Tensor) -> Tensor: ...


def recurrent(memory: Recurrent[State], q: Tensor, k: Tensor, v: Tensor, beta: Tensor | None = None) -> Tensor:
    """The definition: write position t, then read it with q_t, one position at a time. (B, L, ·) → (B, L, dv)."""
    state = memory.init_state(k, v)
    outputs = []
    for t in range(q.shape[1]):
        state = memory.write(state, k[:, t], v[:, t], None if beta is None else beta[:, t])
        outputs.append(memory.read(state, q[:, t]))
    return torch.stack(outputs, dim=1)


def build_memory(
    rule: str, feature: str, dim: int, order: int = 1, features: int = 64, seed: int = 0, **options
) -> Mixer:
    """A memory by name: rule ``softmax`` | ``sum`` | ``delta``; ``feature`` one of :data:`FEATURE_MAPS` (ignored by
    softmax). ``options``: ``beta`` (softmax), ``normalise`` (sum), ``chunk`` (delta)."""
    if rule == "softmax":
        return SoftmaxMemory(dim, beta=options.get("beta"))
    phi = FeatureMap(feature, dim, order=order, features=features, seed=seed)
    if rule == "sum":
        return SumMemory(phi, normalise=options.get("normalise", True))
    if rule == "delta":
        return DeltaMemory(phi, chunk=options.get("chunk", 32))
    raise ValueError(f"rule: expected softmax, sum or delta, got {rule!r}")
