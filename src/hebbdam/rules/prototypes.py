"""Rules that fill K hidden units with image-like vectors (K, D): the online winner-take-all prototype rule (local)
and pseudo-inverse keys for K slots (nonlocal).

- ``prototype`` (MacQueen's online k-means as a Hebbian rule): each pattern is won by the nearest unit (Euclidean;
  a unit that has won nothing yet takes the next pattern, so the first K patterns seed the K units), and the winner
  moves to the running mean of what it has won, ξ_w ← ξ_w + (x - ξ_w) / n_w. Whatever the order, each unit is the
  exact mean of the patterns it has won (a pattern seen in several epochs counts once per epoch). Local: unit μ uses
  the input, its own weights and its own win count; the winner selection is the lateral inhibition of the hidden
  layer, as in Krotov & Hopfield 2019. While it learns, the state carries the win counts as a last column (K, D + 1);
  ``finalize`` drops them, so the written tensor is the hidden units (K, D) like every ``hidden`` rule's.
- ``pseudo_inverse_slots``: the slot write (the first K patterns) whose hidden units read the query through the
  dual basis of the slots, keys = D · (ΞΞᵀ)⁺ Ξ, so key_μ·ξ_ν = D δ_μν when the K slots are linearly independent (the
  projection rule of Personnaz et al. / Kanter–Sompolinsky in the hidden layer). Nonlocal: each key depends on every
  stored slot through the inverse Gram matrix. The state is the keys (K, D); the values are the slots themselves.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import Rule, register_factory
from .hebbian import slot_write


def prototype_update(state: Tensor, patterns: Tensor) -> Tensor:
    """One batch of the online prototype rule. (K, D + 1) [units, win counts], (B, D) → (K, D + 1).

    The batch is assigned at once (unclaimed units take the first patterns in order, the rest go to the nearest
    unit), then each winner becomes (n ξ + Σ won x) / (n + m): the mean of everything it has won so far.
    """
    units, counts = state[:, :-1], state[:, -1]
    unclaimed = (counts == 0).nonzero()[:, 0]
    seeded = min(len(unclaimed), patterns.shape[0])
    seeds = units.index_copy(0, unclaimed[:seeded], patterns[:seeded])  # the units as the rest of the batch sees them
    winners = torch.cdist(patterns, seeds).argmin(dim=1)
    winners[:seeded] = unclaimed[:seeded]
    onehot = torch.zeros(patterns.shape[0], units.shape[0], dtype=patterns.dtype, device=patterns.device)
    onehot[torch.arange(patterns.shape[0], device=patterns.device), winners] = 1.0
    wins = onehot.sum(0)  # (K,)
    total = counts + wins
    summed = counts[:, None] * units + onehot.T @ patterns
    moved = summed / total.clamp_min(1.0)[:, None]
    units = torch.where(wins[:, None] > 0, moved, units)
    return torch.cat([units, total[:, None]], dim=1)


def prototype_units(state: Tensor) -> Tensor:
    """The K units (K, D) of a learning prototype state (K, D + 1) (the last column counts wins)."""
    return state[:, :-1]


def prototype(units: int = 64) -> Rule:
    """The online winner-take-all Hebbian mean; the state starts at zero with no wins, ends as the units (K, D)."""

    def init(dim: int, generator: torch.Generator | None = None) -> Tensor:
        return torch.zeros(units, dim + 1)

    return Rule(
        "prototype", "local", "hidden", prototype_update, finalize=prototype_units, init=init, hyper={"units": units}
    )


def projection_keys(slots: Tensor, rtol: float = 1e-6) -> Tensor:
    """D · (ΞΞᵀ)⁺ Ξ: keys whose overlap with slot ν is D δ_μν (exact for independent slots). (K, D) → (K, D)."""
    x = slots.double()
    gram = x @ x.T
    keys = torch.linalg.pinv(gram, rtol=rtol, hermitian=True) @ x * x.shape[1]
    return keys.to(slots.dtype)


def pseudo_inverse_slots() -> Rule:
    """Append the batch as slots (like ``slot``); ``finalize`` turns the slots into their projection keys."""
    return Rule("pseudo_inverse_slots", "nonlocal", "slots", slot_write, finalize=projection_keys, combine="concat")


register_factory("prototype", prototype)
register_factory("pseudo_inverse_slots", pseudo_inverse_slots)
