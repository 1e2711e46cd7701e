"""Retrieval metrics and capacity estimates shared by every experiment."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from scipy.stats import linregress
from torch import Tensor


def overlap(states: Tensor, targets: Tensor, mirror: bool = False) -> Tensor:
    """m = σ·ξ / D per row: (B, D), (B, D) → (B,). ``mirror`` scores |m| (even-n DAMs also attract to -ξ)."""
    m = (states * targets).mean(dim=-1)
    return m.abs() if mirror else m


def binarise(x: Tensor, threshold: float = 0.0, ties: float = 1.0) -> Tensor:
    """±1 read-out, same shape and dtype: +1 where x > ``threshold``, -1 where x < ``threshold``, ``ties`` at it.

    States use the defaults (sign with 0 → +1; identity for ±1 states); images in [0, 1] use their
    ``data.binarize_threshold`` with ``ties=-1.0`` (a pixel is on only strictly above the threshold).
    """
    return torch.where(x > threshold, 1.0, torch.where(x < threshold, -1.0, ties)).to(x.dtype)


def exact_recall(states: Tensor, targets: Tensor, mirror: bool = False) -> Tensor:
    """(B,) bool: every bit recovered (or every bit inverted, when ``mirror``)."""
    same = (states == targets).all(dim=-1)
    return same | (states == -targets).all(dim=-1) if mirror else same


def bit_error_fraction(states: Tensor, targets: Tensor) -> Tensor:
    """(B,) fraction of wrong bits."""
    return (states != targets).float().mean(dim=-1)


def crossing(xs: Sequence[float], ys: Sequence[float], level: float = 0.5, scale: str = "linear") -> float | None:
    """The x where a falling curve ``ys`` (at ascending ``xs``) first drops below ``level``; None outside the grid.

    Convention (one for every experiment): the crossing is bracketed by the first point with y < ``level`` and the
    point before it; a point exactly at ``level`` counts as not yet below. Inside the bracket x is interpolated
    linearly in x (``scale="linear"``, loads) or in log x (``scale="log"``, counts spread over decades). A
    non-monotone curve crosses at its first drop; later rises are ignored. None when the crossing is not bracketed:
    the first point is already below (below the grid) or no point is (above the grid); :func:`grid_side` says which.
    """
    if scale not in ("linear", "log"):
        raise ValueError(f"scale: expected linear or log, got {scale!r}")
    if len(xs) != len(ys):
        raise ValueError(f"crossing: {len(xs)} x values but {len(ys)} y values")
    below = next((i for i, y in enumerate(ys) if y < level), None)
    if not below:  # None (never below) or 0 (already below at the first point)
        return None
    x0, x1, y0, y1 = xs[below - 1], xs[below], ys[below - 1], ys[below]
    t = (y0 - level) / (y0 - y1)
    if scale == "log":
        return float(math.exp(math.log(x0) + t * (math.log(x1) - math.log(x0))))
    return float(x0 + t * (x1 - x0))


def grid_side(ys: Sequence[float], level: float) -> str:
    """Where an estimate that :func:`crossing` (or :func:`largest_load_above`) left as None lies: ``below_grid`` when
    the first point already falls short of ``level``, else ``above_grid``."""
    return "below_grid" if ys[0] < level else "above_grid"


def grid_estimate(key: str, value: float | None, xs: Sequence[float], ys: Sequence[float], level: float) -> dict:
    """``{key: value}`` (rounded to 6 decimals); a null value (the estimate lies outside the grid) always comes with
    ``<key>_outside``: ``side`` (:func:`grid_side`), ``load`` (the grid's x at that edge: a load, a count, a K) and
    ``fraction`` (y there), so "null" means one thing and the regression gate compares it as an interval."""
    if value is not None:
        return {key: round(value, 6)}
    side = grid_side(ys, level)
    edge = 0 if side == "below_grid" else -1
    return {key: None, f"{key}_outside": {"side": side, "load": xs[edge], "fraction": ys[edge]}}


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
    return float(linregress(np.log(np.asarray(x, dtype=np.float64)), np.log(np.asarray(y, dtype=np.float64))).slope)


def bootstrap_crossing(
    loads: Sequence[float], per_trial: Sequence[Sequence[float]], level: float, samples: int, generator: torch.Generator
) -> tuple[float | None, float | None]:
    """95% percentile interval of :func:`crossing` (linear) when the trials behind each point are resampled with
    replacement (the same resample at every load). ``per_trial`` (points, trials) fractions; resamples whose curve
    does not cross inside the grid are dropped; (None, None) when none crosses.

    Kept instead of ``scipy.stats.bootstrap``: the statistic is censored (no crossing inside the grid for some
    resamples), which scipy's bootstrap cannot drop or count (it needs a finite statistic for every resample and
    jackknife sample), and the draws come from the stage's seeded torch generator, so intervals repeat bit for bit."""
    table = torch.tensor(per_trial, dtype=torch.float64)  # (points, trials)
    trials = table.shape[1]
    crossings = []
    for _ in range(samples):
        pick = torch.randint(trials, (trials,), generator=generator)
        value = crossing(loads, table[:, pick].mean(1).tolist(), level)
        if value is not None:
            crossings.append(value)
    if not crossings:
        return None, None
    low, high = torch.tensor(crossings, dtype=torch.float64).quantile(torch.tensor([0.025, 0.975], dtype=torch.float64))
    return float(low), float(high)


def bootstrap_best(
    xs: Sequence[float], per_trial: Sequence[Sequence[float]], samples: int, generator: torch.Generator
) -> dict:
    """The largest mean over trials of a per-trial quantity on a grid (``value``), the x where it is reached
    (``at``) and its 95% percentile interval when the trials are resampled with replacement (the same resample at
    every x). ``per_trial`` (points, trials)."""
    table = torch.tensor(per_trial, dtype=torch.float64)  # (points, trials)
    means = table.mean(1)
    trials = table.shape[1]
    picks = torch.randint(trials, (samples, trials), generator=generator)
    resampled = table[:, picks].mean(2).amax(0)  # (samples,)
    low, high = resampled.quantile(torch.tensor([0.025, 0.975], dtype=torch.float64)).tolist()
    best = int(means.argmax())
    return {"value": round(float(means[best]), 6), "low": round(low, 6), "high": round(high, 6), "at": xs[best]}


def binary_entropy(p: float) -> float:
    """H₂(p) in bits (0 at p ∈ {0, 1})."""
    if p <= 0.0 or p >= 1.0:
        return 0.0
    return -(p * math.log2(p) + (1 - p) * math.log2(1 - p))
