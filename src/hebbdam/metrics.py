"""Retrieval metrics and capacity estimates shared by every experiment."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def overlap(states: Tensor, targets: Tensor, mirror: bool = False) -> Tensor:
    """m = σ·ξ / D per row: (B, D), (B, D) → (B,). ``mirror`` scores |m| (even-n DAMs also attract to -ξ)."""
    m = (states * targets).mean(dim=-1)
    return m.abs() if mirror else m


def binarise(states: Tensor) -> Tensor:
    """±1 read-out of a state (identity for binary memories; sign, with 0 → +1, for continuous ones)."""
    return torch.where(states >= 0, 1.0, -1.0).to(states.dtype)


def exact_recall(states: Tensor, targets: Tensor, mirror: bool = False) -> Tensor:
    """(B,) bool: every bit recovered (or every bit inverted, when ``mirror``)."""
    same = (states == targets).all(dim=-1)
    return same | (states == -targets).all(dim=-1) if mirror else same


def bit_error_fraction(states: Tensor, targets: Tensor) -> Tensor:
    """(B,) fraction of wrong bits."""
    return (states != targets).float().mean(dim=-1)


def crossing_load(loads: Sequence[float], fractions: Sequence[float], level: float = 0.5) -> float | None:
    """The load where ``fractions`` (falling with load) first drops below ``level``, linearly interpolated.

    Returns None when the crossing is outside the grid: already below at the first load, or never below.
    """
    for i, (load, value) in enumerate(zip(loads, fractions, strict=True)):
        if value < level:
            if i == 0:
                return None
            prev_load, prev_value = loads[i - 1], fractions[i - 1]
            return float(prev_load + (prev_value - level) / (prev_value - value) * (load - prev_load))
    return None


def largest_load_above(loads: Sequence[float], fractions: Sequence[float], level: float) -> float | None:
    """Largest load of the grid, before the first failure, at which ``fractions`` ≥ ``level`` (None if none)."""
    best = None
    for load, value in zip(loads, fractions, strict=True):
        if value < level:
            break
        best = float(load)
    return best


def mean_and_std(values: Tensor) -> tuple[float, float]:
    values = values.double()
    std = values.std(unbiased=True).item() if values.numel() > 1 else 0.0
    return values.mean().item(), std


def loglog_slope(x: Sequence[float], y: Sequence[float]) -> float:
    """Least-squares slope of log y against log x (the scaling exponent)."""
    lx, ly = torch.log(torch.tensor(x, dtype=torch.float64)), torch.log(torch.tensor(y, dtype=torch.float64))
    lx, ly = lx - lx.mean(), ly - ly.mean()
    return float((lx * ly).sum() / (lx * lx).sum())


def bootstrap_crossing(
    loads: Sequence[float], per_trial: Sequence[Sequence[float]], level: float, samples: int, generator: torch.Generator
) -> tuple[float | None, float | None]:
    """95% percentile interval of :func:`crossing_load` when the trials behind each point are resampled with
    replacement (the same resample at every load). ``per_trial`` (points, trials) fractions; resamples whose curve
    does not cross inside the grid are dropped; (None, None) when none crosses."""
    table = torch.tensor(per_trial, dtype=torch.float64)  # (points, trials)
    trials = table.shape[1]
    crossings = []
    for _ in range(samples):
        pick = torch.randint(trials, (trials,), generator=generator)
        value = crossing_load(loads, table[:, pick].mean(1).tolist(), level)
        if value is not None:
            crossings.append(value)
    if not crossings:
        return None, None
    low, high = torch.tensor(crossings, dtype=torch.float64).quantile(torch.tensor([0.025, 0.975], dtype=torch.float64))
    return float(low), float(high)
