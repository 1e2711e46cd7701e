"""The one place that iterates a memory: synchronous, asynchronous and gradient recall, rollouts, a fixed number of
differentiable steps (``iterate``), a diffusion sampler's probability-flow ODE (``probability_flow``).

Streaming softmax recall over huge K (one chunked pass, not an iteration) lives in the recall core,
``memory.core.stream_softmax``.

Asynchronous sweeps visit every neuron once, in a fresh random order per state and sweep. Memories with exact
synchronous fields (dense ±1 DAMs within their exact range, pairwise Hopfield networks) compute the fields of every
neuron with one matrix product and then step from flip to flip (:func:`field_sweep`): a neuron whose field agrees with
its value does not change, so only flips cost work. The others loop over the D positions of the sweep
(:func:`incremental_sweep`); each iteration updates one neuron of *every* state at once and keeps the memory's cache
current (a rank-1 update).

Every loop stops each sample on its own: a (B,) ``converged`` mask freezes a sample once an update leaves it
unchanged (within ``tol`` for continuous states), and the loop ends when all have converged or at
the step limit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor

from .memory.base import BinaryMemory, Memory, sign_keep
from .memory.hopfield import Hopfield

MODES = ("async", "sync", "one-step", "gradient")
DEFAULT_GRADIENT_TOL = 1e-6  # largest |Δσ| of one gradient step that counts as converged


@dataclass
class Relaxation:
    """Result of :func:`relax`. ``states`` (B, D); ``sweeps`` (B,) sweeps until no neuron changed;
    ``converged`` (B,) bool; ``energy`` (T + 1, B) when traced, else None."""

    states: Tensor
    sweeps: Tensor
    converged: Tensor
    energy: Tensor | None = None


PAIRWISE_BLOCK = 64  # neurons whose fields one matrix product reads ahead in a pairwise sweep
# a pairwise sweep steps from flip to flip while no state disagrees with more than D/16 of its fields, else it goes
# block by block (one CPU thread, measured: flip to flip 41 ms vs blocked 17 ms at D = 400 with ~40 flips, equal at
# D = 200 with ~20; with no flip left it is one product instead of D steps). Both give the same states.
PAIRWISE_FIELD_SWEEP_SHARE = 16


def sweep_order(memory: BinaryMemory, batch: int, generator: torch.Generator | None = None) -> Tensor:
    """The visiting order of one asynchronous sweep, (B, D) long, drawn on the CPU from ``generator``.

    Each state gets its own random permutation, except for pairwise (Hopfield) memories, whose states share one
    permutation per sweep so that :func:`pairwise_sweep` can read fields ahead with one matrix product. Each state
    on its own still sees a uniformly random order.
    """
    if isinstance(memory, Hopfield):
        return torch.randperm(memory.dim, generator=generator).expand(batch, memory.dim)
    return torch.rand(batch, memory.dim, generator=generator).argsort(dim=1)


def asynchronous_sweep(
    memory: BinaryMemory,
    states: Tensor,
    generator: torch.Generator | None = None,
    clamped: Tensor | None = None,
) -> Tensor:
    """One random-order asynchronous sweep over all neurons of every state: (B, D) → (B, D), a new tensor.

    ``clamped`` (D,) bool marks neurons that never change (for hetero-association and classification by
    clamping). Memories with an exact synchronous field (``BinaryMemory.sweep_fields``) take
    :func:`field_sweep` (one product per sweep, then only the flips' changes); the others the per-neuron
    :func:`incremental_sweep`. Both give the same states bit for bit (the signs they read are exact).
    """
    if states.shape[0] == 0:
        return states.clone()
    order = sweep_order(memory, states.shape[0], generator).to(states.device)
    with single_cpu_thread(states.device):
        fields = memory.sweep_fields(states)
        if isinstance(memory, Hopfield) and fields is not None:  # a Hopfield network always has its fields
            disagreeing = int((fields * states < 0).sum(dim=1).amax())
            if disagreeing * PAIRWISE_FIELD_SWEEP_SHARE > memory.dim:
                return pairwise_sweep(memory.field_weights, states, order[0], clamped, memory.field_threshold)
        if fields is not None:
            return field_sweep(memory, states, order, fields, clamped)
        return incremental_sweep(memory, states, order, clamped)


def incremental_sweep(memory: BinaryMemory, states: Tensor, order: Tensor, clamped: Tensor | None = None) -> Tensor:
    """The per-neuron sweep: neuron ``order[b, t]`` of every state b at step t, reading its field from the memory's
    cache and updating the cache per flip (a rank-1 step): (B, D) states, (B, D) order → (B, D), a new tensor."""
    states = states.clone()
    cache = memory.cache(states)
    for position in range(memory.dim):
        index = order[:, position]
        current = states.gather(1, index[:, None])[:, 0]
        new = sign_keep(memory.field_at(cache, states, index), current)
        if clamped is not None:
            new = torch.where(clamped[index], current, new)
        delta = new - current
        states.scatter_(1, index[:, None], new[:, None])
        cache = memory.after_flip(cache, index, delta)
    return states


def field_sweep(
    memory: BinaryMemory, states: Tensor, order: Tensor, fields: Tensor, clamped: Tensor | None = None
) -> Tensor:
    """The asynchronous sweep read off synchronous fields: (B, D) states, (B, D) order, (B, D) float64 ``fields``
    (``memory.sweep_fields(states)``) → (B, D), a new tensor, equal to :func:`incremental_sweep`.

    Until a state flips a neuron, the field the sweep reads at neuron i is column i of its synchronous field. So each
    state jumps to the first neuron, in its order from where it stands, whose exact field disagrees with its value
    (``field · σ_i < 0``: the only case :func:`sign_keep` changes anything), flips it, and has its fields refreshed
    (``memory.refresh_fields``); a state with no such neuron left has finished its sweep. The loop runs once per flip of
    the state that flips most, not once per neuron, and every step works on the still-flipping states only.
    """
    states = states.clone()
    batch, dim = states.shape
    positions = torch.arange(dim, device=states.device)
    movable = None if clamped is None else ~clamped[order]  # (B, D) in visiting order
    start = torch.zeros(batch, dtype=torch.long, device=states.device)  # each state's next position
    active = torch.arange(batch, device=states.device)
    while active.numel():
        visit = order[active]  # (A, D)
        disagree = fields[active].gather(1, visit) * states[active].gather(1, visit) < 0
        disagree &= positions >= start[active, None]
        if movable is not None:
            disagree &= movable[active]
        flipping = disagree.any(dim=1)
        active, first = active[flipping], disagree[flipping].int().argmax(dim=1)
        neurons = order[active, first]
        delta = -2.0 * states[active, neurons]
        states[active, neurons] += delta
        memory.refresh_fields(fields, states, active, neurons, delta)
        start[active] = first + 1
        active = active[start[active] < dim]
    return states


def pairwise_sweep(
    weights: Tensor,
    states: Tensor,
    order: Tensor,
    clamped: Tensor | None = None,
    threshold: Tensor | None = None,
) -> Tensor:
    """σ_i ← sgn(Σ_j W_ij σ_j - θ_i) for i in ``order`` (D,), one neuron at a time, for every state (B, D) at once.
    ``threshold`` θ (D,): None for θ = 0.

    Blocked: the fields of the next PAIRWISE_BLOCK neurons are read with one product S W_blockᵀ, and each flip
    inside the block corrects the fields of the block's later neurons through the (k, k) sub-matrix of W. Fields
    are float64: a Hopfield network passes its field units (``Hopfield.field_weights``: the integers D·W of
    Hebbian weights, and θ·D), so every field is an exact integer, a tie is exactly 0 on every CPU and keeps the
    current state (:func:`sign_keep`); float32 weights of other rules give exact float64 sums too (see ``Hopfield``).
    """
    weights64 = weights.double()
    new_states = states.to(torch.float64, copy=True)
    frozen = set() if clamped is None else set(clamped.nonzero()[:, 0].tolist())
    with single_cpu_thread(states.device):
        for start in range(0, order.shape[0], PAIRWISE_BLOCK):
            block = order[start : start + PAIRWISE_BLOCK]
            rows = weights64[block]  # (k, D)
            fields = new_states @ rows.T  # (B, k) at the start of the block
            if threshold is not None:
                fields -= threshold.double()[block]
            inner = rows[:, block]  # inner[q, p] = W[i_q, i_p]: what a flip of i_p adds to the field of i_q
            for p, neuron in enumerate(block.tolist()):
                if neuron in frozen:
                    continue
                current = new_states[:, neuron]
                new = sign_keep(fields[:, p], current)
                fields[:, p + 1 :].addcmul_((new - current)[:, None], inner[p + 1 :, p])
                new_states[:, neuron] = new
    return new_states.to(states.dtype)


@contextmanager
def single_cpu_thread(device: torch.device | str) -> Iterator[None]:
    """Run the enclosed work on one intra-op CPU thread when ``device`` is the CPU, then restore the previous count.

    The one thread pinning of the package (dynamics, experiments, bench). An asynchronous sweep is D tiny operations
    in a row; splitting each over threads costs a barrier per operation and, when the cores are shared with other
    processes, made sweeps 10-20× slower (measured: 3.8 s vs 0.17 s for D = 500, B = 125 on 2 busy cores); the
    experiments' digits/mnist-sized tensors measured 2.5-3× faster on one thread than on two. Other devices: no-op.
    """
    if torch.device(device).type != "cpu":
        yield
        return
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(saved)


@runtime_checkable
class AnalyticGradient(Protocol):
    """A memory with its own ∇_σ E (e.g. the random-feature DAM)."""

    def grad_energy(self, states: Tensor) -> Tensor: ...


def energy_gradient(memory: Memory, states: Tensor) -> Tensor:
    """(B, D) → (B, D) ∇_σ E: the memory's analytic ``grad_energy`` if it has one, else autograd."""
    if isinstance(memory, AnalyticGradient):
        return memory.grad_energy(states)
    with torch.enable_grad():
        leaf = states.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(memory.energy(leaf).sum(), leaf)
    return grad


def gradient_step(memory: Memory, states: Tensor, lr: float, clamped: Tensor | None = None) -> Tensor:
    """σ ← σ - lr ∇E(σ), clamped neurons held: (B, D) → (B, D)."""
    grad = energy_gradient(memory, states)
    if clamped is not None:
        grad = grad.masked_fill(clamped, 0.0)
    return states - lr * grad


def _energy(memory: Memory, states: Tensor) -> Tensor:
    try:
        return memory.energy(states)
    except NotImplementedError as err:
        raise ValueError(f"trace_energy: {type(memory).__name__} has no energy ({err})") from err


def relax(
    memory: Memory,
    states: Tensor,
    mode: str = "async",
    max_sweeps: int = 50,
    generator: torch.Generator | None = None,
    clamped: Tensor | None = None,
    trace_energy: bool = False,
    *,
    lr: float = 0.1,
    tol: float | None = None,
) -> Relaxation:
    """Update ``states`` (B, D) until no neuron changes in a whole sweep, or ``max_sweeps`` is reached.

    ``mode``: "async" (random order, one neuron at a time), "sync" (all neurons at once), "one-step" (a single
    synchronous step, as in one-pass retrieval), or "gradient" (σ ← σ - ``lr`` ∇E on a continuous energy).
    ``clamped`` (D,) bool: neurons held at their initial value. ``tol``: a sample has converged when one
    update moves no entry by more than ``tol`` (default 0 — exactly unchanged — except 1e-6 for "gradient").
    Converged samples are frozen; ``sweeps`` counts each sample's updates until it converged.
    """
    if mode not in MODES:
        raise ValueError(f"mode: expected one of {', '.join(MODES)}, got {mode!r}")
    if getattr(memory, "hetero", False):
        raise ValueError(f"memory: a hetero-associative {type(memory).__name__} maps keys to values; call its step")
    if mode == "async" and not isinstance(memory, BinaryMemory):
        raise ValueError(f"mode: asynchronous updates need a binary memory, got {type(memory).__name__}")
    if isinstance(max_sweeps, bool) or not isinstance(max_sweeps, int) or max_sweeps < 1:
        raise ValueError(f"max_sweeps: expected an integer ≥ 1, got {max_sweeps!r}")
    if mode == "gradient" and not lr > 0:
        raise ValueError(f"lr: expected a step size > 0, got {lr!r}")
    memory.validate(states)
    if clamped is not None and (clamped.shape != (memory.dim,) or clamped.dtype != torch.bool):
        raise ValueError(f"clamped: expected a ({memory.dim},) bool mask, got {tuple(clamped.shape)} {clamped.dtype}")
    tol = (DEFAULT_GRADIENT_TOL if mode == "gradient" else 0.0) if tol is None else float(tol)
    limit = 1 if mode == "one-step" else max_sweeps
    sweeps = torch.zeros(states.shape[0], dtype=torch.long, device=states.device)
    converged = torch.zeros(states.shape[0], dtype=torch.bool, device=states.device)
    energies = [_energy(memory, states).detach()] if trace_energy else None
    with torch.no_grad():
        for _ in range(limit):
            active = (~converged).nonzero()[:, 0]  # converged samples are frozen and cost nothing
            current = states[active]
            if mode == "async" and isinstance(memory, BinaryMemory):  # checked above: async needs a BinaryMemory
                new = asynchronous_sweep(memory, current, generator, clamped)
            elif mode == "gradient":
                new = gradient_step(memory, current, lr, clamped)
            else:
                new = memory.step(current)
                if clamped is not None:
                    new = torch.where(clamped, current, new)
            sweeps[active] += 1
            converged[active] = (new - current).abs().amax(dim=1) <= tol
            states = states.index_copy(0, active, new)
            if energies is not None:
                energies.append(_energy(memory, states))
            if bool(converged.all()):
                break
    energy = torch.stack(energies) if energies is not None else None
    return Relaxation(states=states, sweeps=sweeps, converged=converged, energy=energy)


def iterate(step: Callable[[Tensor], Tensor], states: Tensor, steps: int) -> Tensor:
    """``steps`` synchronous updates s ← step(s) of states (B, D) → (B, D), differentiable (a backprop arm trains
    through the unrolled recall); ``step`` is a memory's read, e.g. ``memory.core.unit_read`` of fixed units."""
    for _ in range(steps):
        states = step(states)
    return states


def probability_flow(denoise: Callable[[Tensor, float], Tensor], noise: Tensor, levels: list[float]) -> Tensor:
    """A diffusion model's probability-flow ODE by Euler steps down the noise ``levels`` σ_0 > σ_1 > …, then a final
    denoising (as EDM returns the denoised estimate): x ← x + (σ_{t+1} - σ_t)(x - D(x; σ_t)) / σ_t from x = σ_0 ·
    ``noise``. ``denoise(x, σ)``: (B, D) → (B, D), e.g. ``memory.universal.gaussian_denoise``. (B, D) → (B, D)."""
    x = noise * levels[0]
    for s0, s1 in zip(levels[:-1], levels[1:], strict=True):
        x = x + (s1 - s0) * (x - denoise(x, s0)) / s0
    return denoise(x, levels[-1])


def rollout(memory: Memory, start: Tensor, steps: int, clamped: Tensor | None = None) -> Tensor:
    """Iterate ``memory.step`` from ``start`` (B, D) for ``steps`` synchronous steps: → (steps + 1, B, D).

    For sequence memories, frame t of the trajectory should equal pattern t of the stored sequence.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps: expected an integer ≥ 0, got {steps!r}")
    memory.validate(start, "start")
    frames = [start]
    with torch.no_grad():
        for _ in range(steps):
            new = memory.step(frames[-1])
            if clamped is not None:
                new = torch.where(clamped, frames[-1], new)
            frames.append(new)
    return torch.stack(frames)
