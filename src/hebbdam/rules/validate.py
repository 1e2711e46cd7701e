"""Measurements that check each rule against its published behaviour (used by tests and ``hebbdam validate-rules``).

Criteria, named once here:
- *retrieved*: after asynchronous relaxation from ``FLIP`` = 10% flipped bits, the final overlap with the stored
  pattern is ≥ ``RETRIEVED_OVERLAP`` = 0.95 (basin criterion, ρ = 0.1);
- *critical load*: the load α = P/D where the fraction of retrieved patterns crosses ½ (linear interpolation on a
  grid of loads);
- *fixed point*: one synchronous step from the stored pattern changes no bit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from ..data.synthetic import flip_bits, rademacher
from ..dynamics import relax
from ..memory import Hopfield
from .base import Rule, get_rule

FLIP = 0.1
RETRIEVED_OVERLAP = 0.95
HALF = 0.5


def fixed_point_fraction(weights: Tensor, patterns: Tensor) -> float:
    """Fraction of stored patterns (P, D) left unchanged by one synchronous step of the network ``weights``."""
    stepped = relax(Hopfield(weights), patterns, mode="one-step").states
    return float((stepped == patterns).all(1).float().mean())


def retrieval(
    weights: Tensor, patterns: Tensor, generator: torch.Generator, flip: float = FLIP, max_sweeps: int = 12
) -> Tensor:
    """Final overlaps (P,) after asynchronous relaxation from each pattern with ``flip`` of its bits flipped."""
    start = flip_bits(patterns, flip, generator)
    final = relax(Hopfield(weights), start, mode="async", max_sweeps=max_sweeps, generator=generator).states
    return (final * patterns).mean(1)


def retrieved_fraction(rule: Rule, dim: int, load: float, trials: int, seed: int, **fit) -> float:
    """Mean fraction of patterns retrieved (overlap ≥ 0.95 from 10% flips) over ``trials`` random pattern sets."""
    generator = torch.Generator().manual_seed(seed)
    count = max(1, round(load * dim))
    fractions = []
    for _ in range(trials):
        patterns = rademacher(count, dim, generator)
        weights = rule.fit(patterns, **fit)
        fractions.append(float((retrieval(weights, patterns, generator) >= RETRIEVED_OVERLAP).float().mean()))
    return sum(fractions) / len(fractions)


def crossing(loads: Sequence[float], fractions: Sequence[float], level: float = HALF) -> float:
    """The first load where ``fractions`` falls through ``level`` (linear interpolation); nan if it never does."""
    points = list(zip(loads, fractions, strict=True))
    if points and points[0][1] < level:
        return points[0][0]
    for (a0, f0), (a1, f1) in zip(points, points[1:], strict=False):
        if f0 >= level > f1:
            return a0 + (f0 - level) * (a1 - a0) / (f0 - f1)
    return math.nan


def critical_load(
    rule: Rule, dim: int, loads: Sequence[float], trials: int = 2, seed: int = 0
) -> tuple[float, dict[float, float]]:
    """Basin-criterion critical load of ``rule`` at dimension ``dim`` and the retrieved fraction at each load."""
    curve = {load: retrieved_fraction(rule, dim, load, trials, seed + i) for i, load in enumerate(loads)}
    return crossing(list(curve), list(curve.values())), curve


def fixed_point_capacity(rule: Rule, dim: int, counts: Sequence[int], trials: int = 3, seed: int = 0, **fit) -> int:
    """Largest P in ``counts`` (ascending) at which every stored pattern of every trial is a fixed point; 0 if none."""
    generator = torch.Generator().manual_seed(seed)
    best = 0
    for count in counts:
        sets = [rademacher(count, dim, generator) for _ in range(trials)]
        if all(fixed_point_fraction(rule.fit(x, **fit), x) == 1.0 for x in sets):
            best = count
        else:
            break
    return best


# the checks, each returning plain numbers ----------------------------------------------------------------------
def hebb_critical_load(dim: int = 1000, loads=(0.13, 0.14, 0.15, 0.16, 0.17), trials: int = 2, seed: int = 0):
    alpha, curve = critical_load(get_rule("hebb"), dim, loads, trials, seed)
    return {"dim": dim, "critical_load": alpha, "retrieved_fraction": {str(k): v for k, v in curve.items()}}


def storkey_vs_hebb(dim: int = 200, trials: int = 3, seed: int = 0):
    counts = list(range(2, dim // 2, 2))
    return {
        "dim": dim,
        "hebb_fixed_point_capacity": fixed_point_capacity(get_rule("hebb"), dim, counts, trials, seed),
        "storkey_fixed_point_capacity": fixed_point_capacity(get_rule("storkey"), dim, counts, trials, seed),
    }


def pseudo_inverse_fixed_points(dim: int = 200, load: float = 0.9, seed: int = 0):
    patterns = rademacher(round(load * dim), dim, torch.Generator().manual_seed(seed))
    return {"dim": dim, "load": load, "fixed_point_fraction": fixed_point_fraction(get_rule("pseudo_inverse").fit(patterns), patterns)}


def dreaming_vs_hebb(dim: int = 400, load: float = 0.3, t: float = 10.0, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    patterns = rademacher(round(load * dim), dim, generator)
    out = {"dim": dim, "load": load, "t": t}
    for name, rule in (("hebb", get_rule("hebb")), ("dreaming", get_rule("dreaming", t=t))):
        overlaps = retrieval(rule.fit(patterns), patterns, torch.Generator().manual_seed(seed + 1))
        out[f"{name}_mean_overlap"] = float(overlaps.mean())
        out[f"{name}_retrieved_fraction"] = float((overlaps >= RETRIEVED_OVERLAP).float().mean())
    return out


def delta_fixed_points(dim: int = 200, load: float = 1.0, epochs: int = 100, seed: int = 0):
    patterns = rademacher(round(load * dim), dim, torch.Generator().manual_seed(seed))
    weights = get_rule("delta").fit(patterns, epochs=epochs)
    return {"dim": dim, "load": load, "epochs": epochs, "fixed_point_fraction": fixed_point_fraction(weights, patterns)}
