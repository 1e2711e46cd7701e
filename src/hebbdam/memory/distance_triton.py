"""The GPU distance kernel, in Triton: one program computes a (BLOCK_B, BLOCK_K) tile of Σ_d |s_d - m_d|^p,
walking D in steps of BLOCK_D, so no (B, K, D) difference tensor exists. It runs on CUDA tensors; with
``TRITON_INTERPRET=1`` set before import it runs on CPU tensors, which is how the tests check it against
``torch.cdist``. Its speed on a GPU has not been measured yet (``hebbdam bench`` reports it when CUDA is present).
"""

from __future__ import annotations

import torch
from torch import Tensor

try:
    import triton
    import triton.language as tl
except ImportError:  # triton ships with torch's Linux CUDA wheels only
    triton = None

BLOCK_B, BLOCK_K, BLOCK_D = 32, 32, 8

if triton is not None:

    @triton.jit
    def _distance_tile(
        q_ptr, m_ptr, out_ptr, B, K, D, NORM: tl.constexpr, BB: tl.constexpr, BK: tl.constexpr, BD: tl.constexpr
    ):
        rb = tl.program_id(0) * BB + tl.arange(0, BB)
        rk = tl.program_id(1) * BK + tl.arange(0, BK)
        acc = tl.zeros((BB, BK), dtype=tl.float32)
        for d0 in range(0, D, BD):
            rd = d0 + tl.arange(0, BD)
            q = tl.load(q_ptr + rb[:, None] * D + rd[None, :], mask=(rb[:, None] < B) & (rd[None, :] < D), other=0.0)
            m = tl.load(m_ptr + rk[:, None] * D + rd[None, :], mask=(rk[:, None] < K) & (rd[None, :] < D), other=0.0)
            diff = q[:, None, :].to(tl.float32) - m[None, :, :].to(tl.float32)
            if NORM == 1:
                acc += tl.sum(tl.abs(diff), axis=2)
            else:
                acc += tl.sum(diff * diff, axis=2)
        tl.store(out_ptr + rb[:, None] * K + rk[None, :], acc, mask=(rb[:, None] < B) & (rk[None, :] < K))


def available() -> bool:
    return triton is not None


def triton_distance(states: Tensor, memories: Tensor, norm: int) -> Tensor:
    """Σ_d |s_d - m_d|^norm in float32, (B, D), (K, D) → (B, K) (norm 1: Manhattan, 2: squared Euclidean)."""
    states, memories = states.contiguous(), memories.contiguous()
    batch, count, dim = states.shape[0], memories.shape[0], states.shape[1]
    out = torch.empty(batch, count, dtype=torch.float32, device=states.device)
    if batch and count:
        grid = (triton.cdiv(batch, BLOCK_B), triton.cdiv(count, BLOCK_K))
        _distance_tile[grid](states, memories, out, batch, count, dim, NORM=norm, BB=BLOCK_B, BK=BLOCK_K, BD=BLOCK_D)
    return out
