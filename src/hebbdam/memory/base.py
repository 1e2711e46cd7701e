"""Base classes: a memory is an energy over states and a one-step update.

Binary memories (states in {-1, +1}) expose a *field*: ``field[b, i] > 0`` means state ``b`` has lower energy with
``σ_i = +1`` than with ``σ_i = -1``. Asynchronous dynamics (``dynamics.py``) need the field of one neuron per state at
a time; a binary memory keeps a small *cache* (local fields, or overlaps with the memories) current per flip, so one
asynchronous step costs O(D) or O(P) per state instead of a full recomputation.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def sign_keep(field: Tensor, current: Tensor) -> Tensor:
    """sgn(field), keeping the current value where the field is exactly zero (ties never flip, so energy never rises)."""
    return torch.where(field > 0, 1.0, torch.where(field < 0, -1.0, current)).to(current.dtype)


def check_states(states: Tensor, dim: int, *, bipolar: bool, name: str = "states") -> None:
    """Raise a ValueError naming ``name`` unless it is a (B, dim) tensor (and ±1 when ``bipolar``)."""
    if states.ndim != 2 or states.shape[1] != dim:
        raise ValueError(f"{name}: expected shape (B, {dim}), got {tuple(states.shape)}")
    if bipolar and not bool(((states == 1) | (states == -1)).all()):
        raise ValueError(f"{name}: expected bipolar ±1 entries for a binary model")


class Memory(nn.Module):
    """An associative memory over D-dimensional states."""

    dim: int

    def energy(self, states: Tensor) -> Tensor:
        """(B, D) → (B,) energy of each state."""
        raise NotImplementedError

    def step(self, states: Tensor) -> Tensor:
        """(B, D) → (B, D): one synchronous update of every neuron."""
        raise NotImplementedError


class BinaryMemory(Memory):
    """A memory over bipolar states, updated by σ_i ← sgn(field_i)."""

    def field(self, states: Tensor) -> Tensor:
        """(B, D) → (B, D): preference of each neuron for +1 over -1 (any positive per-state scale)."""
        raise NotImplementedError

    def step(self, states: Tensor) -> Tensor:
        return sign_keep(self.field(states), states)

    # asynchronous support: a cache kept current per single-neuron flip ------------------------------------------------
    def cache(self, states: Tensor) -> Tensor:
        """(B, D) → (B, C): the quantities needed to read one neuron's field cheaply."""
        raise NotImplementedError

    def field_at(self, cache: Tensor, states: Tensor, index: Tensor) -> Tensor:
        """Field of neuron ``index[b]`` of state ``b``: (B, C), (B, D), (B,) → (B,)."""
        raise NotImplementedError

    def after_flip(self, cache: Tensor, index: Tensor, delta: Tensor) -> Tensor:
        """The cache after ``states[b, index[b]] += delta[b]`` (delta ∈ {-2, 0, 2}): → (B, C)."""
        raise NotImplementedError
