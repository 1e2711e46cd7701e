"""Rules that learn a fixed number K of hidden-unit weight vectors (K, D): Oja's rule and Krotov & Hopfield 2019;
and the delta rule for a readout (C, K) from such a hidden layer to C class units.

These learn features (or DAM memories) in place instead of storing the data; their state is initialised at random
from the generator the caller passes (``Rule.initial(dim, generator)``), so a seed fixes the result.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor

from .base import Rule, register_factory


def _normal_init(count: int, scale: float | None):
    def init(dim: int, generator: torch.Generator | None = None) -> Tensor:
        std = scale if scale is not None else dim**-0.5
        return torch.randn(count, dim, generator=generator) * std

    return init


def oja_update(weights: Tensor, patterns: Tensor, lr: float) -> Tensor:
    """Oja's subspace rule, ΔW = lr (YᵀX - YᵀY W) / B with Y = X Wᵀ; for K = 1 it is Δw = lr ⟨y (x - y w)⟩,
    which converges to the unit-norm first principal direction. (K, D), (B, D) → (K, D)."""
    y = patterns @ weights.T
    return weights + lr * (y.T @ patterns - (y.T @ y) @ weights) / patterns.shape[0]


def oja(lr: float = 0.01, units: int = 1) -> Rule:

    def update(weights: Tensor, patterns: Tensor) -> Tensor:
        return oja_update(weights, patterns, lr)

    return Rule("oja", "local", "hidden", update, init=_normal_init(units, None), hyper={"lr": lr, "units": units})


def competing_update(
    weights: Tensor, patterns: Tensor, lr: float, p: float, rank: int, anti: float, precision: float = 1e-30
) -> Tensor:
    """Krotov & Hopfield 2019 "unsupervised learning by competing hidden units", one minibatch.

    Each unit's input is ⟨W_μ, v⟩_p = Σ_i sgn(W_μi)|W_μi|^{p-1} v_i (the Lebesgue-p inner product). Per sample the
    most driven unit gets g = 1 (Hebbian), the ``rank``-th most driven g = -``anti`` (anti-Hebbian), the rest 0;
    ΔW_μ = Σ_b g_μb (v_b - ⟨W_μ, v_b⟩_p W_μ), the step scaled by its largest entry. The fixed point has
    ‖W_μ‖_p = 1. (K, D), (B, D) → (K, D). Local: unit μ uses its own input current and weights (the ranking is the
    lateral inhibition of the hidden layer).
    """
    count = weights.shape[0]
    currents = patterns @ (weights.sign() * weights.abs().pow(p - 1)).T  # (B, K)
    order = currents.argsort(dim=1, descending=True)
    gain = torch.zeros_like(currents)
    gain.scatter_(1, order[:, :1], 1.0)
    if 1 < rank <= count:
        gain.scatter_(1, order[:, rank - 1 : rank], -anti)
    drive = (gain * currents).sum(0)  # (K,)
    step = gain.T @ patterns - drive[:, None] * weights
    norm = step.abs().max().clamp_min(precision)
    return weights + lr * step / norm


def krotov_hopfield(
    units: int = 100, p: float = 3.0, rank: int = 2, anti: float = 0.4, lr: float = 0.04, init_std: float = 1.0
) -> Rule:
    """The 2019 rule with the learning rate annealed linearly to zero over training (``progress``)."""

    def update(weights: Tensor, patterns: Tensor, progress: float) -> Tensor:
        return competing_update(weights, patterns, lr * (1.0 - progress), p, rank, anti)

    hyper = {"units": units, "p": p, "rank": rank, "anti": anti, "lr": lr, "init_std": init_std}
    return Rule(
        "krotov_hopfield",
        "local",
        "hidden",
        update,
        init=_normal_init(units, init_std),
        uses_progress=True,
        hyper=hyper,
    )


def hidden_activity(weights: Tensor, inputs: Tensor, p: float, power: float) -> Tensor:
    """Hidden-layer response ReLU(⟨W_μ, v⟩_p)^power used under a top-layer classifier (K&H 2019 eq. 10)."""
    currents = inputs @ (weights.sign() * weights.abs().pow(p - 1)).T
    return torch.relu(currents).pow(power)


def lms_step(readout: Tensor, hidden: Tensor, target: Tensor, lr: float) -> Tensor:
    """Widrow–Hoff (LMS) on a batch: ΔV = lr ⟨(t - V h) hᵀ⟩ over the batch. (C, K), (B, K), (B, C) → (C, K). Local:
    class unit c uses its own target t_c, its output V_c·h and the input h_k."""
    error = target - hidden @ readout.T  # (B, C)
    return readout + lr * error.T @ hidden / hidden.shape[0]


def shuffled_batches(count: int, batch_size: int, epochs: int, generator: torch.Generator) -> Iterator[Tensor]:
    """Row indices (≤ B,) of ``epochs`` passes over ``count`` rows, each pass in a fresh order drawn from
    ``generator`` (one ``randperm`` per pass, drawn when the pass starts)."""
    for _ in range(epochs):
        order = torch.randperm(count, generator=generator)
        for start in range(0, count, batch_size):
            yield order[start : start + batch_size]


def lms_fit(hidden: Tensor, target: Tensor, lr: float, epochs: int, batch_size: int, generator) -> Tensor:
    """A readout V (C, K) from zero by :func:`lms_step` over shuffled minibatches of hidden activity (N, K) and ±1
    targets (N, C) (:func:`shuffled_batches`); in ``hidden``'s dtype."""
    readout = torch.zeros(target.shape[1], hidden.shape[1], dtype=hidden.dtype)
    for rows in shuffled_batches(len(hidden), batch_size, epochs, generator):
        readout = lms_step(readout, hidden[rows], target[rows], lr)
    return readout


def top_layer_fit(
    hidden: Tensor, target: Tensor, beta: float, m: float, lr: float, epochs: int, batch_size: int, generator
) -> Tensor:
    """K&H 2019's supervised top layer c = tanh(β V h) on hidden activity (N, K): V (C, K) from 0.01·N(0, 1) (drawn
    from ``generator`` first), plain minibatch SGD on Σ_c |c - t|^m against ±1 targets (N, C) over
    :func:`shuffled_batches`. Not local (a gradient), kept beside :func:`lms_fit` as the readout it is compared with.

    A plain loop on purpose: a (C, K) readout on precomputed features, 10 epochs in well under a second, where a
    Lightning Trainer's set-up per fit would cost more than the fit and change nothing that is recorded."""
    weights = 0.01 * torch.randn(target.shape[1], hidden.shape[1], generator=generator, dtype=hidden.dtype)
    weights.requires_grad_(True)
    optimiser = torch.optim.SGD([weights], lr=lr)
    with torch.enable_grad():
        for rows in shuffled_batches(len(hidden), batch_size, epochs, generator):
            out = torch.tanh(beta * hidden[rows] @ weights.T)
            loss = (out - target[rows]).abs().pow(m).sum(-1).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return weights.detach()


def max_scaled(weights: Tensor, floor: float = 1e-30) -> Tensor:
    """Each unit (row of (K, D)) divided by its largest |entry| (at least ``floor``): a state in [-1, 1]^D. How a
    rule with ``RuleInfo.normed_units`` (K&H 2019: ‖W_μ‖_p → 1, entries of any scale) is read as visible states."""
    return weights / weights.abs().amax(1, keepdim=True).clamp_min(floor)


def delta_readout_update(readout: Tensor, rows: Tensor, lr: float) -> Tensor:
    """:func:`lms_step` on rows = [h (K), t (C)], targets ±1: (C, K), (B, K + C) → (C, K)."""
    classes = readout.shape[0]
    return lms_step(readout, rows[:, :-classes], rows[:, -classes:], lr)


def delta_readout(classes: int = 10, lr: float = 0.1) -> Rule:
    """The delta rule for a readout; the state (C, K) starts at zero (``dim`` = K + C: the rows carry the targets)."""

    def update(readout: Tensor, rows: Tensor) -> Tensor:
        return delta_readout_update(readout, rows, lr)

    def init(dim: int, generator: torch.Generator | None = None) -> Tensor:
        if dim <= classes:
            raise ValueError(f"dim: rows hold K hidden activities then {classes} targets, got {dim} columns")
        return torch.zeros(classes, dim - classes)

    return Rule("delta_readout", "local", "readout", update, init=init, hyper={"classes": classes, "lr": lr})


register_factory("oja", oja)
register_factory("delta_readout", delta_readout)
register_factory("krotov_hopfield", krotov_hopfield)
