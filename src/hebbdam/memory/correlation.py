"""Correlation-matrix memories: Kohonen's linear associator and Amari's sign (threshold) associator.

Both store M = Σ_μ v_μ k_μᵀ = Vᵀ K but never form it: recall is two matmuls, (x Kᵀ) V, cost B·P·(D + Dv).
Auto-association: values = keys. Amari's auto-associator is a Hopfield network with W = ΞᵀΞ (Hebb's rule
without the 1/D and, unless ``zero_diagonal``, with the self-coupling W_ii = Σ_μ ξ_μi² kept).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import BinaryMemory, Memory, check_matrix, sign_keep
from .registry import register_kind, slot_kind


def _store_keys_and_values(memory: Kohonen | Amari, keys: Tensor, values: Tensor | None) -> None:
    """Check ``keys`` (P, D) and ``values`` (P, Dv) or None (auto-association), and register both as buffers."""
    check_matrix(keys, "keys")
    if values is not None:
        check_matrix(values, "values")
        if values.shape[0] != keys.shape[0]:
            raise ValueError(f"values: expected {keys.shape[0]} rows (one per key), got {values.shape[0]}")
    memory.dim = keys.shape[1]
    memory.hetero = values is not None
    memory.register_buffer("keys", keys)
    memory.register_buffer("values", keys if values is None else values)


class Kohonen(Memory):
    """Linear associator y = Vᵀ K x. ``keys`` K (P, D); ``values`` V (P, Dv), default K (auto-association).

    Auto-associative energy E(x) = -½ xᵀ KᵀK x = -½ ‖K x‖² (one step is -∇E).
    """

    keys: Tensor  # buffer
    values: Tensor  # buffer
    hetero: bool

    def __init__(self, keys: Tensor, values: Tensor | None = None):
        super().__init__()
        _store_keys_and_values(self, keys, values)

    def energy(self, states: Tensor) -> Tensor:
        if self.hetero:
            raise NotImplementedError("a hetero-associative Kohonen memory has no energy over its input space")
        return -0.5 * (states @ self.keys.T).square().sum(-1)

    def step(self, states: Tensor) -> Tensor:
        """(B, D) → (B, Dv): one linear pass."""
        return (states @ self.keys.T) @ self.values


class Amari(BinaryMemory):
    """Sign associator σ ← sgn(Vᵀ K σ) (Amari 1972; Hopfield 1982 with W = ΞᵀΞ). ``keys`` (P, D), ``values``
    (P, Dv) for hetero-association (one pass, ties → +1), default auto-association (ties keep the current
    bit).

    ``zero_diagonal`` drops the self-coupling W_ii = Σ_μ ξ_μi² (auto only), as Hebb's rule does.
    E(σ) = -½ σᵀWσ = -½ (‖Kσ‖² - Σ_i W_ii σ_i²) with the diagonal dropped.
    """

    keys: Tensor  # buffer
    values: Tensor  # buffer
    hetero: bool
    self_coupling: Tensor  # buffer

    def __init__(self, keys: Tensor, values: Tensor | None = None, zero_diagonal: bool = False):
        super().__init__()
        if values is not None and zero_diagonal:
            raise ValueError("zero_diagonal: only defined for auto-association (values=None)")
        _store_keys_and_values(self, keys, values)
        self.zero_diagonal = zero_diagonal
        self.register_buffer("self_coupling", keys.square().sum(0) if zero_diagonal else torch.zeros(self.dim))

    def energy(self, states: Tensor) -> Tensor:
        if self.hetero:
            raise NotImplementedError("a hetero-associative Amari memory has no energy over its input space")
        quadratic = (states @ self.keys.T).square().sum(-1) - (self.self_coupling * states.square()).sum(-1)
        return -0.5 * quadratic

    def field(self, states: Tensor) -> Tensor:
        # float64: for ±1 keys and values every sum is an exact integer, the same in any order (on any CPU)
        sigma = states.double()
        out = (sigma @ self.keys.double().T) @ self.values.double()
        out = out - self.self_coupling.double() * sigma if self.zero_diagonal else out
        return out.to(states.dtype)

    def step(self, states: Tensor) -> Tensor:
        if self.hetero:
            return torch.where(self.field(states) >= 0, 1.0, -1.0).to(states.dtype)
        return sign_keep(self.field(states), states)

    def cache(self, states: Tensor) -> Tensor:
        return states @ self.keys.T

    def field_at(self, cache: Tensor, states: Tensor, index: Tensor) -> Tensor:
        field = (cache * self.columns("keys")[index]).sum(-1)
        if self.zero_diagonal:
            field = field - self.self_coupling[index] * states.gather(1, index[:, None])[:, 0]
        return field

    def after_flip(self, cache: Tensor, index: Tensor, delta: Tensor) -> Tensor:
        return torch.addcmul(cache, delta[:, None], self.columns("keys")[index])


register_kind(slot_kind("kohonen", Kohonen, "keys K (P, D) of a linear associator"))
register_kind(slot_kind("amari", Amari, "keys K (P, D) of a sign associator (W = KᵀK)"))
