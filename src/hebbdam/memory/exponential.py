"""The exponential field of ±1 models with exact ties and the same value on every CPU.

Exponential DAMs (Demircigil et al. 2017) and exponential sequence memories (Chaudhry et al. 2023) update neuron i of
a ±1 state σ by the sign of

    h_i = Σ_μ T_μi exp(β r_μi),   r_μi = o_μ - ξ_μi σ_i,   o = Ξσ   (integers: the overlap without neuron i)

(T = Ξ for the DAM, whose energy difference of a flip is 2 sinh β · h_i; T = the next patterns for a sequence).
Grouping the terms by their integer exponent k gives h_i = Σ_k N_ik e^{βk} with integer N_ik; e^β is transcendental
(Lindemann), so h_i = 0 exactly when every N_ik = 0: a tie is decided exactly, by integers. The sum over k then runs
in one fixed order (ascending k, a sequential ``cumsum``) over a table of e^{β(k - top)} rounded once, by the
``decimal`` module, so h is the same float on every CPU and thread count: no vectorised ``exp`` (whose last bit
depends on the instruction set) and no matrix product (whose summation order does). Its sign away from ties is that
float's (reproducible bit for bit; exact up to the rounding of Σ_k, a relative 1e-16).
"""

from __future__ import annotations

from decimal import Context
from functools import lru_cache

import torch
from torch import Tensor

EXACT_BLOCK = 1 << 22  # elements of the (chunk, bins, D) coefficient tensor built at a time


@lru_cache(maxsize=64)
def _table(beta: float, size: int) -> tuple[float, ...]:
    context = Context(prec=40)
    base = context.create_decimal_from_float(beta)
    return tuple(float(context.exp(-base * (m - 1))) for m in range(size))


def exponent_table(beta: float, size: int, device: torch.device | str = "cpu") -> Tensor:
    """(size,) float64: entry m + 1 is e^{-β m}, m ∈ [-1, size - 2], each correctly rounded from 40 digits (the
    ``decimal`` module: the same on every machine)."""
    return torch.tensor(_table(float(beta), int(size)), dtype=torch.float64, device=device)


def _weights(top: Tensor, grid: Tensor, beta: float, bins: int) -> Tensor:
    """(rows,) top bin, (G,) ascending bins → (rows, G) e^{-β (top - j)} (a bin above top + 1 holds no term)."""
    distance = (top[:, None] - grid[None, :]).clamp(min=-1)
    return exponent_table(beta, bins + 2, top.device)[distance + 1]


def exponential_field(states: Tensor, sources: Tensor, targets: Tensor, beta: float) -> Tensor:
    """(B, D) ±1 states, (P, D) ±1 ``sources`` Ξ, (P, D) integer ``targets`` T → (B, D) float64
    Σ_μ T_μi exp(β (o_μ - ξ_μi σ_i - max_ν o_ν)), o = Ξσ: h_i up to the positive factor e^{-β max o} of each state
    (see the module docstring: exact zeros, the same float on every CPU). float64 on purpose: a float32 copy of a
    field whose leading terms cancel could underflow to a false tie.

    Memory μ with overlap o_μ adds T_μi (1 + σ_i ξ_μi) to the coefficient 2N of e^{β(o_μ - 1)} and T_μi (1 - σ_i ξ_μi)
    to that of e^{β(o_μ + 1)}: integer sums, binned over the exponents that occur in the chunk (ascending; an
    exponent with no term adds an exact 0, so the chunking never changes a value).
    """
    batch, dim = states.shape
    count = sources.shape[0]
    bins = 2 * dim + 3  # bin j holds the exponent k = j - D - 1 ∈ [-D-1, D+1]
    sigma, sources64, targets64 = states.double(), sources.double(), targets.double()
    chunk = max(1, EXACT_BLOCK // (dim * (2 * count + bins)))
    parts = []
    for start in range(0, batch, chunk):
        block = sigma[start : start + chunk]
        rows = block.shape[0]
        slot = (block @ sources64.T).round().long() + dim + 1  # (b, P) bin of each overlap, in [1, 2D + 1]
        grid = torch.unique(torch.cat([slot - 1, slot + 1]))  # ascending exponents that occur
        offsets = grid.shape[0] * torch.arange(rows, device=states.device)[:, None]
        aligned = block[:, None, :] * sources64[None]  # (b, P, D) σ_i ξ_μi
        twice = torch.zeros(rows * grid.shape[0], dim, dtype=torch.float64, device=states.device)  # 2 N
        for shift, sign in ((-1, 1.0), (1, -1.0)):
            where = (torch.searchsorted(grid, slot + shift) + offsets).flatten()
            twice.index_add_(0, where, (targets64[None] * (1.0 + sign * aligned)).reshape(-1, dim))  # exact
        weights = _weights(slot.amax(dim=1), grid, beta, bins)[:, :, None]
        parts.append((twice.view(rows, -1, dim) * weights).cumsum(dim=1)[:, -1])  # ascending k, one fixed order
    if not parts:
        return torch.zeros(0, dim, dtype=torch.float64, device=states.device)
    return torch.cat(parts) * 0.5


def exponential_field_at(overlaps: Tensor, column: Tensor, current: Tensor, beta: float, dim: int) -> Tensor:
    """One neuron per state, for asynchronous sweeps: (B, P) integer overlaps o, (B, P) ``column`` ξ_μi of the neuron
    i visited in each state, (B,) its ``current`` value σ_i → (B,) float64
    Σ_μ ξ_μi exp(β (o_μ - ξ_μi σ_i - max_ν o_ν)), grouped by exponent as :func:`exponential_field`."""
    bins = 2 * dim + 3
    column64, overlaps64 = column.double(), overlaps.double()
    slot = (overlaps64 - column64 * current.double()[:, None]).round().long() + dim + 1
    coefficients = torch.zeros(overlaps.shape[0], bins, dtype=torch.float64, device=overlaps.device)
    coefficients.scatter_add_(1, slot, column64)  # sums of ±1: exact in any order
    top = overlaps64.amax(dim=1).round().long() + dim + 1
    grid = torch.arange(bins, device=overlaps.device)
    return (coefficients * _weights(top, grid, beta, bins)).cumsum(dim=1)[:, -1]
