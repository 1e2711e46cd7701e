"""Universal Hopfield Network (Millidge et al. 2022): out = P · sep(sim(M, q)).

Similarity, separation and projection are independent choices; auto-association projects onto the memories
(P = M), hetero-association onto other content (``projection``, one row per memory). Distances come from
``memory.distance`` (a compiled kernel on the CPU); dot similarity with softmax separation is attention and
takes ``softmax_readout``; with ``chunk`` every separation streams over the memories in bounded memory.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import Memory, check_beta, check_matrix
from .core import SEPARATIONS, Logits, project, separate, softmax_read, softmax_readout, stream_softmax
from .distance import pairwise_distance
from .registry import register_kind, slot_kind

EPS = 1e-12  # guards L1 and L2 norms of all-zero rows


def _dot(q: Tensor, m: Tensor) -> Tensor:
    return q @ m.T


def _l1_dot(q: Tensor, m: Tensor) -> Tensor:
    # each vector divided by its L1 norm (sum of |entries|) before the dot product
    return (q @ m.T) / (q.abs().sum(-1, keepdim=True).clamp_min(EPS) * m.abs().sum(-1).clamp_min(EPS))


def _cosine(q: Tensor, m: Tensor) -> Tensor:
    return (q @ m.T) / (q.norm(dim=-1, keepdim=True).clamp_min(EPS) * m.norm(dim=-1).clamp_min(EPS))


def _euclidean(q: Tensor, m: Tensor) -> Tensor:
    return pairwise_distance(q, m, "euclidean").neg_()


def _manhattan(q: Tensor, m: Tensor) -> Tensor:
    return pairwise_distance(q, m, "manhattan").neg_()


SIMILARITIES = {
    "dot": _dot,
    "l1_dot": _l1_dot,
    "cosine": _cosine,
    "euclidean": _euclidean,
    "manhattan": _manhattan,
}


def squared_euclidean(q: Tensor, m: Tensor, exact: bool = True) -> Tensor:
    """-‖q - m‖², (B, D), (N, D) → (B, N): Millidge et al.'s Euclidean similarity (squared) and the Gaussian
    kernel's exponent. ``exact``: each distance from its differences (never the matmul expansion, which cancels
    for near points); else ``torch.cdist``'s default (the expansion for large inputs)."""
    mode = "donot_use_mm_for_euclid_dist" if exact else "use_mm_for_euclid_dist_if_necessary"
    return -torch.cdist(q, m, p=2.0, compute_mode=mode).square()


def gaussian_denoise(states: Tensor, memories: Tensor, sigma: Tensor | float, exact: bool = True) -> Tensor:
    """D(x; σ) = softmax_μ(-‖x - ξ_μ‖² / 2σ²) Ξ, one softmax step with β = 1/σ² over the squared Euclidean
    similarity (the empirical optimal denoiser of a diffusion model when Ξ is its training set): (B, D) states at
    noise level σ (a number or (B, 1)), (K, D) memories → (B, D). ``exact`` as :func:`squared_euclidean`."""
    return softmax_read(squared_euclidean(states, memories, exact) / (2 * sigma**2), memories)


class UniversalHopfield(Memory):
    """out = sep(sim(M, q)) P. ``memories`` M (P, D); ``projection`` (P, Dv), default M (auto-association).

    ``similarity``: dot, l1_dot (dot of L1-normalised vectors), cosine, euclidean (-‖m - q‖₂), manhattan (-‖m
    - q‖₁).
    ``separation``: identity, power (x^k, ``power`` = k), softmax (softmax(β x), ``beta``), max (one-hot
    argmax: returns exactly the projection row of the most similar memory). No energy in general (softmax with
    dot is :class:`ModernHopfield`). ``chunk``: stream the memories this many rows at a time, so no (B, P)
    tensor larger than (B, chunk) is held (softmax by a running log-sum-exp, max by a running argmax).
    """

    memories: Tensor  # buffer
    projection: Tensor  # buffer

    def __init__(
        self,
        memories: Tensor,
        similarity: str = "dot",
        separation: str = "softmax",
        beta: float = 1.0,
        power: int = 2,
        projection: Tensor | None = None,
        chunk: int | None = None,
    ):
        super().__init__()
        check_matrix(memories, "memories")
        if similarity not in SIMILARITIES:
            raise ValueError(f"similarity: expected one of {', '.join(SIMILARITIES)}, got {similarity!r}")
        if separation not in SEPARATIONS:
            raise ValueError(f"separation: expected one of {', '.join(SEPARATIONS)}, got {separation!r}")
        if separation == "power" and (isinstance(power, bool) or not isinstance(power, int) or power < 1):
            raise ValueError(f"power: expected an integer ≥ 1, got {power!r}")
        if projection is not None:
            check_matrix(projection, "projection")
            if projection.shape[0] != memories.shape[0]:
                raise ValueError(
                    f"projection: expected {memories.shape[0]} rows (one per memory), got {projection.shape[0]}"
                )
        if chunk is not None and (isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1):
            raise ValueError(f"chunk: expected a positive integer or None, got {chunk!r}")
        self.chunk = chunk
        self.dim = memories.shape[1]
        self.similarity = similarity
        self.separation = separation
        self.beta = check_beta(beta)
        self.power = power
        self.hetero = projection is not None
        self.register_buffer("memories", memories)
        self.register_buffer("projection", memories if projection is None else projection)

    def scores(self, states: Tensor) -> Tensor:
        """(B, D) → (B, P) similarity of each query to each memory."""
        return SIMILARITIES[self.similarity](states, self.memories)

    def separate(self, scores: Tensor) -> Tensor:
        """(B, P) → (B, P) weights of the recall core (``memory.core.separate``)."""
        return separate(scores, self.separation, self.beta, self.power)

    def nearest(self, states: Tensor) -> Tensor:
        """(B, D) → (B,) index of the most similar memory (the first of equals), streamed when ``chunk`` is set."""
        if not self._streams():
            return self.scores(states).argmax(-1)
        best_score = torch.full((states.shape[0],), float("-inf"), dtype=states.dtype, device=states.device)
        best = torch.zeros(states.shape[0], dtype=torch.long, device=states.device)
        chunk = self._chunk()
        for start in range(0, self.memories.shape[0], chunk):
            scores = SIMILARITIES[self.similarity](states, self.memories[start : start + chunk])
            index = scores.argmax(-1)
            score = scores.gather(-1, index[:, None])[:, 0]
            better = score > best_score  # strict: an earlier chunk keeps a tie, as argmax over all P does
            best_score = torch.where(better, score, best_score)
            best = torch.where(better, index + start, best)
        return best

    def _streams(self) -> bool:
        return self.chunk is not None and self.chunk < self.memories.shape[0]

    def _chunk(self) -> int:
        """The chunk size of a streaming memory (``_streams()`` is true)."""
        assert self.chunk is not None
        return self.chunk

    def _logits(self) -> Logits:
        similarity, beta = SIMILARITIES[self.similarity], self.beta
        return lambda states, chunk: similarity(states, chunk).mul_(beta)

    def step(self, states: Tensor) -> Tensor:
        """(B, D) → (B, Dv)."""
        if self.separation == "max":
            return self.projection[self.nearest(states)]
        if self.separation == "softmax" and self._streams():
            return stream_softmax(states, self.memories, self.projection, self._logits(), self._chunk())[0]
        if self.separation == "softmax" and self.similarity == "dot":
            return softmax_readout(states, self.memories, self.projection, self.beta)
        if not self._streams():
            return project(self.separate(self.scores(states)), self.projection)
        out = torch.zeros(states.shape[0], self.projection.shape[1], dtype=states.dtype, device=states.device)
        chunk = self._chunk()
        for start in range(0, self.memories.shape[0], chunk):  # identity and power act on each score alone
            scores = SIMILARITIES[self.similarity](states, self.memories[start : start + chunk])
            out.addmm_(self.separate(scores), self.projection[start : start + chunk])  # project, accumulated
        return out


register_kind(slot_kind("universal", UniversalHopfield, "memories M (P, D) under a similarity and a separation"))
