"""E2: Krotov & Hopfield 2016, Appendix B — where asynchronous relaxation from random starts ends.

K random ±1 memories in D neurons (D = 100, K = 2000 in the paper) are stored one-shot in a Dense Associative Memory
with F = xⁿ or rectified ReLU(x)ⁿ. ``starts`` random ±1 states relax by asynchronous energy-difference updates
(``dynamics.relax(mode="async")``) until a sweep flips nothing. For each start the score is its largest overlap
max_μ ξ_μ·σ / D (|ξ_μ·σ| for even n with the plain power, whose mirror states -ξ are attractors too); a start has
*converged onto a memory* when that overlap is exactly 1. DenseAM scales overlaps by 1/D before F, which multiplies
every energy difference of xⁿ by the positive D⁻ⁿ and so changes no update.

Second part, K½(D) for one power (n = 3): for a few D and a grid of K = ratio · D^(n-1), the fraction of random
starts that end on a memory; K½ is where that fraction falls through ½ (interpolated in log K); its log-log slope
against D is compared with the capacity scaling D^(n-1).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
from tqdm import tqdm

from .. import references as ref
from ..config import Params
from ..data.synthetic import rademacher
from ..dynamics import relax
from ..logs import say
from ..memory import DenseAM, Power
from ..metrics import crossing, grid_estimate, loglog_slope
from ..schema import (
    BOOLEAN,
    NONNEG_INT,
    POSITIVE_INT,
    POSITIVE_LIST,
    POWER,
    Section,
    int_list,
    integer,
    parse,
    setting,
    subset,
)
from .common import Curves, compute_device, generator_for, run_stage, select

VARIANTS = ("power", "rectified")
HALF_LEVEL = 0.5  # K½: the load at which half of the random starts end exactly on a memory


AT_LEAST_TWO = integer("an integer ≥ 2", lambda v: v >= 2)


@dataclass(frozen=True, kw_only=True)
class HalfSettings:
    """K½(D): power ``n`` (``rectified`` or not), dimensions ``dims``, K = round(ratio · D^(n-1)) per ratio;
    ``trials`` independent memory sets per (D, K), ``starts`` random starts each."""

    n: int = setting(POWER)
    rectified: bool = setting(BOOLEAN)
    dims: list[int] = setting(int_list(2))
    ratios: list[float] = setting(POSITIVE_LIST, then=sorted)
    trials: int = setting(POSITIVE_INT)
    starts: int = setting(POSITIVE_INT)


@dataclass(frozen=True, kw_only=True)
class Settings:
    seed: int = setting(NONNEG_INT)
    dim: int = setting(AT_LEAST_TWO)
    memories: int = setting(POSITIVE_INT)
    starts: int = setting(POSITIVE_INT)
    powers: list[int] = setting(int_list(2))
    variants: list[str] = setting(subset("a non-empty list of " + ", ".join(VARIANTS), VARIANTS))
    max_sweeps: int = setting(POSITIVE_INT)
    half: HalfSettings = setting(Section(HalfSettings))
    device: torch.device = torch.device("cpu")


def parse_settings(params: Params) -> Settings:
    """The ``appendix_b`` section read into :class:`Settings`, checked whole before any computation starts."""
    return parse(Settings, params.section("appendix_b"), device=compute_device(params))


def relax_random_starts(
    dim: int, count: int, starts: int, n: int, rectified: bool, settings: Settings, *labels: object
) -> dict[str, torch.Tensor]:
    """Store ``count`` random memories, relax ``starts`` random ±1 states asynchronously.

    Returns per-start (starts,) tensors: ``max_overlap`` (integer max_μ ξ_μ·σ, |·| for mirror powers),
    ``converged`` (no flip in the last sweep), ``sweeps``.
    """
    generator = generator_for(settings.seed, *labels, dim, count, n, rectified)
    memories = rademacher(count, dim, generator)
    initial = rademacher(starts, dim, generator)
    separation = Power(n, rectified=rectified)
    memory = DenseAM(memories.to(settings.device), separation)
    result = relax(
        memory, initial.to(settings.device), mode="async", max_sweeps=settings.max_sweeps, generator=generator
    )
    overlaps = memory.overlaps(result.states)  # exact integers for ±1 vectors
    if separation.attracts_mirror:
        overlaps = overlaps.abs()
    return {
        "max_overlap": overlaps.amax(dim=1).round().long().cpu(),
        "converged": result.converged.cpu(),
        "sweeps": result.sweeps.cpu(),
    }


def arm_name(n: int, variant: str) -> str:
    return f"{variant}_n{n}"


def histogram_arm(n: int, variant: str, settings: Settings) -> tuple[dict, dict]:
    """One (n, variant) at (D, K): the summary and the histogram of the final max overlap."""
    rectified = variant == "rectified"
    out = relax_random_starts(settings.dim, settings.memories, settings.starts, n, rectified, settings, "histogram")
    overlap = out["max_overlap"]
    values, counts = torch.unique(overlap, return_counts=True)
    summary = {
        "n": n,
        "rectified": rectified,
        "mirror": Power(n, rectified=rectified).attracts_mirror,
        "exact_fraction": round((overlap == settings.dim).double().mean().item(), 6),
        "mean_max_overlap": round(overlap.double().mean().item() / settings.dim, 6),
        "converged_fraction": round(out["converged"].double().mean().item(), 6),
        "mean_sweeps": round(out["sweeps"].double().mean().item(), 6),
    }
    histogram = {
        "arm": arm_name(n, variant),
        "n": n,
        "rectified": rectified,
        "max_overlap": [round(v / settings.dim, 6) for v in values.tolist()],
        "count": counts.tolist(),
    }
    return summary, histogram


def half_capacity(settings: Settings) -> tuple[dict, list[dict]]:
    """K½(D) for every D of ``settings.half``, its log-log slope, and the (D, K, fraction) points."""
    half = settings.half
    points: list[dict] = []
    by_dim: dict = {}  # "D<dim>": K½ (None outside the grid) and, for a None, "D<dim>_outside" (grid_estimate)
    for dim in half.dims:
        start = time.perf_counter()
        counts = sorted({max(2, round(r * dim ** (half.n - 1))) for r in half.ratios})
        fractions = []
        for count in tqdm(counts, desc=f"K½ D={dim}", leave=False, disable=None):
            hits = [
                relax_random_starts(dim, count, half.starts, half.n, half.rectified, settings, "half", trial)[
                    "max_overlap"
                ]
                == dim
                for trial in range(half.trials)
            ]
            exact = round(torch.cat(hits).double().mean().item(), 6)
            fractions.append(exact)
            points.append({"D": dim, "K": count, "exact_fraction": exact})
        k_half = crossing(counts, fractions, HALF_LEVEL, scale="log")
        by_dim.update(grid_estimate(f"D{dim}", k_half, counts, fractions, HALF_LEVEL))
        say(f"appendix_b K½ n={half.n} D={dim}: {by_dim[f'D{dim}']} ({time.perf_counter() - start:.1f} s)")
    found = [(d, by_dim[f"D{d}"]) for d in half.dims if by_dim[f"D{d}"] is not None]
    exponent = round(loglog_slope([d for d, _ in found], [k for _, k in found]), 6) if len(found) >= 2 else None
    # the slope D^(n-1)/ln D has over the same D range: the log correction of the capacity law
    log_corrected = (
        round(loglog_slope([d for d, _ in found], [d ** (half.n - 1) / math.log(d) for d, _ in found]), 6)
        if len(found) >= 2
        else None
    )
    # K½ against the paper's Eq. (6) no-error curve at the same D: a ratio per D (not an exponent fit)
    ratio = {f"D{d}": round(k / ref.dam_no_error_capacity(d, half.n), 6) for d, k in found}
    record = {
        "n": half.n,
        "rectified": half.rectified,
        "starts": half.trials * half.starts,
        "dims": list(half.dims),  # the D of each k_half / ratio_to_no_error entry ("D<dim>")
        "k_half": by_dim,
        "ratio_to_no_error": ratio,
        "exponent": exponent,
        "theory_exponent": half.n - 1,
        "theory_exponent_with_log": log_corrected,
    }
    return record, points


def run(settings: Settings) -> tuple[dict, dict]:
    """Histograms for every (n, variant), then K½(D): returns (record body, curves)."""
    arms: dict[str, dict] = {}
    histograms: list[dict] = []
    for variant in settings.variants:
        for n in settings.powers:
            start = time.perf_counter()
            summary, histogram = histogram_arm(n, variant, settings)
            arms[arm_name(n, variant)] = summary
            histograms.append(histogram)
            say(
                f"appendix_b {arm_name(n, variant)} D={settings.dim} K={settings.memories}: "
                f"{summary['exact_fraction']:.3f} of starts end on a memory, mean max overlap "
                f"{summary['mean_max_overlap']:.3f} ({time.perf_counter() - start:.1f} s)"
            )
    half, points = half_capacity(settings)
    return {"arms": arms, "half": half}, {"histograms": histograms, "half": points}


def main(args) -> None:
    run_stage(
        args,
        "appendix_b",
        parse_settings,
        compute,
        headline=lambda record: select(record, "arms.*.exact_fraction", "half.exponent"),
        curves=(Curves("appendix_b_curves.json", x="K", y=("exact_fraction",), series=("D",), rows="half"),),
    )


def compute(settings: Settings, params: Params, tracker) -> dict[str, object]:
    """The record (DVC metrics) and the histograms + K½ curves (DVC plots)."""
    body, curves = run(settings)
    record = {
        "dim": settings.dim,
        "memories": settings.memories,
        "starts": settings.starts,
        **body,
    }
    return {"appendix_b.json": record, "appendix_b_curves.json": curves}
