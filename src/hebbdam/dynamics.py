"""The one place that iterates a memory: synchronous and asynchronous recall until convergence.

Asynchronous sweeps visit every neuron once, in a fresh random order per state and sweep. The loop runs over the D
positions of the sweep; each iteration updates one neuron of *every* state at once and keeps the memory's cache
current (a rank-1 update), so a sweep costs the same arithmetic as one synchronous step.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .memory.base import BinaryMemory, Memory, sign_keep


@dataclass
class Relaxation:
    """Result of :func:`relax`. ``states`` (B, D); ``sweeps`` (B,) sweeps until no neuron changed;
    ``converged`` (B,) bool; ``energy`` (T + 1, B) when traced, else None."""

    states: Tensor
    sweeps: Tensor
    converged: Tensor
    energy: Tensor | None = None


def asynchronous_sweep(
    memory: BinaryMemory,
    states: Tensor,
    generator: torch.Generator | None = None,
    clamped: Tensor | None = None,
) -> Tensor:
    """One random-order asynchronous sweep over all neurons of every state: (B, D) → (B, D), a new tensor.

    ``clamped`` (D,) bool marks neurons that never change (for hetero-association and classification by clamping).
    """
    states = states.clone()
    batch, dim = states.shape
    order = torch.rand(batch, dim, generator=generator, device="cpu").argsort(dim=1).to(states.device)
    cache = memory.cache(states)
    for position in range(dim):
        index = order[:, position]
        current = states.gather(1, index[:, None])[:, 0]
        new = sign_keep(memory.field_at(cache, states, index), current)
        if clamped is not None:
            new = torch.where(clamped[index], current, new)
        delta = new - current
        states.scatter_(1, index[:, None], new[:, None])
        cache = memory.after_flip(cache, index, delta)
    return states


def relax(
    memory: Memory,
    states: Tensor,
    mode: str = "async",
    max_sweeps: int = 50,
    generator: torch.Generator | None = None,
    clamped: Tensor | None = None,
    trace_energy: bool = False,
) -> Relaxation:
    """Update ``states`` (B, D) until no neuron changes in a whole sweep, or ``max_sweeps`` is reached.

    ``mode``: "async" (random order, one neuron at a time), "sync" (all neurons at once), or "one-step" (a single
    synchronous step, as in one-pass retrieval).
    """
    if mode not in ("async", "sync", "one-step"):
        raise ValueError(f"mode: expected one of async, sync, one-step, got {mode!r}")
    if mode == "async" and not isinstance(memory, BinaryMemory):
        raise ValueError(f"mode: asynchronous updates need a binary memory, got {type(memory).__name__}")
    if max_sweeps < 1:
        raise ValueError(f"max_sweeps: expected an integer ≥ 1, got {max_sweeps!r}")
    limit = 1 if mode == "one-step" else max_sweeps
    sweeps = torch.zeros(states.shape[0], dtype=torch.long, device=states.device)
    converged = torch.zeros(states.shape[0], dtype=torch.bool, device=states.device)
    energies = [memory.energy(states)] if trace_energy else None
    with torch.no_grad():
        for _ in range(limit):
            if mode == "async":
                new = asynchronous_sweep(memory, states, generator, clamped)
            else:
                new = memory.step(states)
                if clamped is not None:
                    new = torch.where(clamped, states, new)
            unchanged = (new == states).all(dim=1)
            sweeps += (~converged).long()
            converged |= unchanged
            states = new
            if energies is not None:
                energies.append(memory.energy(states))
            if bool(converged.all()):
                break
    energy = torch.stack(energies) if energies is not None else None
    return Relaxation(states=states, sweeps=sweeps, converged=converged, energy=energy)
