"""E6: memorisation → spurious states → generalisation as the training set grows (Pham et al. 2025), cheap analogue.

The optimal denoiser of a variance-exploding diffusion model trained on K points ξ_μ (the "empirical optimal
denoiser") is a softmax Dense Associative Memory over them:

    D(x; σ) = Σ_μ ξ_μ softmax_μ(-‖x - ξ_μ‖² / 2σ²)      (β = 1/σ², similarity -‖x - ξ‖²).

Sampler (deterministic): the probability-flow ODE dx/dσ = (x - D(x; σ)) / σ integrated by Euler steps from
x ~ N(0, σ_max² I) over the Karras et al. (2022) schedule (ρ = 7) down to σ_min, then one final denoising
x ← D(x; σ_min) (as EDM returns the denoised estimate). σ_min is set relative to the data: ``sigma_min`` × the
median nearest-neighbour distance of the pool. With σ_min → 0 every trajectory ends exactly on a training point;
at a finite σ_min the softmax averages the training points within ~σ_min of the trajectory, so with few points
the samples are copies and with many they are new blends — the smoothing that Pham et al. identify as the onset
of generation. Every sample is then classified by its top-1 Euclidean distance:

- memorised: d(sample, training set) ≤ δ_m;
- spurious: otherwise, d(sample, nearest other sample) ≤ δ_s (several trajectories share a new attractor);
- generalised: neither.

δ_m = ``delta_memorised`` × and δ_s = ``delta_spurious`` × the median nearest-neighbour distance of the pool
(default ¼ each): a memorised sample sits four times closer to a training point than typical neighbouring
training images sit to each other, and two samples within δ_s of each other are far closer than any two distinct
images of the data, i.e. the same state. Relative thresholds carry over to MNIST without retuning.

Where the sampler stops moves the transition: with σ_min → 0 every sample is a copy of a training point at every K.
The optimal arm is therefore run at every σ_min of ``sigma_min_sweep`` (× NN; the headline ``sigma_min`` included),
with the transition K per σ_min, and the record states the smallest σ_min's memorised fraction at the largest K (the
σ_min → 0 limit). Fractions come with their count and a 95% Wilson interval. The headline (optimal arm at
``sigma_min``) uses ``samples`` trajectories per K (≥ 1,000 on the laptop: the spurious peak is a few tenths and
needs that many to stand out); the σ_min sweep and the other arms use the first ``sweep_samples`` of the same noise.
The spurious peak stands out when an interior K's interval lies above the intervals at both ends of the K grid; it is
ruled out when an end's interval lies above every interior K's; otherwise the intervals cannot tell (inconclusive).

Attractors: a sample is at an attractor when one more recall step (the denoiser at σ_min; for the Hebbian arm an
asynchronous sweep) moves it by less than ``attractor_tolerance`` × NN; the record gives the fraction that are, per K,
overall and per class (the sampler stops after a fixed schedule, so a sample need not be a fixed point).

Other arms (at the headline ``sigma_min`` only, at the K of ``arm_sizes``), on the same K training images:
- ``hebbian``: a pairwise Hopfield network (D² weights, Hebb's rule, the fixed-size local memory) on the binarised
  images, relaxed asynchronously from random ±1 states; samples and training set compared in {0, 1} space with the
  thresholds of the binarised pool.
- ``backprop``: a fixed-size softmax memory of ``slots`` rows θ (independent of K), D_θ(x; σ) = softmax(-‖x -
  θ‖²/2σ²) θ, trained through Lightning by denoising score matching (``lit.backprop``: Adam on ‖D_θ(ξ + σε; σ) -
  ξ‖² / σ², σ log-uniform in [σ_min, σ_max]) and sampled with the same ODE.
"""

from __future__ import annotations

import math
import time

import torch
from torch import Tensor
from tqdm import tqdm

from .. import references as ref
from ..config import ConfigError, Params
from ..data.prepare import load_processed
from ..dynamics import probability_flow, relax, single_cpu_thread
from ..logs import say
from ..memory import Hopfield
from ..memory.universal import gaussian_denoise
from ..metrics import binarise, crossing, grid_estimate
from ..rules import get_rule
from ..settings import generalisation as schema
from ..settings.generalisation import Settings
from .common import (
    Curves,
    built,
    compute_device,
    generator_for,
    run_stage,
    select,
)

CLASSES = ("memorised", "spurious", "generalised")
TRANSITION_LEVEL = 0.5  # the transition K: where the memorised fraction falls through ½ (interpolated in log K)


def parse_settings(params: Params) -> Settings:
    """The settings of :mod:`hebbdam.settings.generalisation`, checked whole before any work, with their rules and
    separations built and this machine's device."""
    return built(schema.parse_settings(params, device=compute_device(params)))


# the diffusion analogue -------------------------------------------------------------------------------------------
def noise_levels(sigma_max: float, sigma_min: float, steps: int) -> list[float]:
    """Karras et al. (2022) schedule: steps + 1 levels from σ_max down to σ_min."""
    rho = ref.EDM_RHO.value
    hi, lo = sigma_max ** (1 / rho), sigma_min ** (1 / rho)
    return [(hi + i / steps * (lo - hi)) ** rho for i in range(steps + 1)]


def sample(memories: Tensor, noise: Tensor, levels: list[float]) -> Tensor:
    """The optimal denoiser of ``memories`` (K, D) run down the probability-flow ODE (``dynamics.probability_flow``):
    (B, D) noise at σ = 1 → (B, D) samples."""
    return probability_flow(lambda x, sigma: gaussian_denoise(x, memories, sigma), noise, levels)


def train_memory(train: Tensor, settings: Settings, sigma_min: float, generator: torch.Generator) -> Tensor:
    """A fixed-size softmax memory θ (slots, D) trained by denoising score matching on ``train`` (K, D): Lightning's
    :class:`~hebbdam.lit.backprop.BackpropModule` with Adam, ``steps`` batches of ``batch`` rows drawn with
    replacement."""
    from ..lit import fit
    from ..lit.backprop import BackpropModule, ScoreMatching, SoftmaxDenoiser
    from ..lit.data import ResampledDataModule

    bp = settings.backprop
    start = train.mean(0, keepdim=True) + 0.1 * torch.randn(bp.slots, train.shape[1], generator=generator)
    seed = int(torch.randint(2**31 - 1, (1,), generator=generator))
    module = BackpropModule(
        SoftmaxDenoiser(start.to(train.device)), ScoreMatching(sigma_min, settings.sigma_max), lr=bp.lr, seed=seed
    )
    data = ResampledDataModule(train, bp.batch, bp.steps, seed=seed)
    fit(module, data, settings.trainer, name=f"generalisation/backprop/K{len(train)}", max_epochs=1)
    return module.memory.theta.detach().to(train.device)


def nearest_distance(points: Tensor, others: Tensor, exclude_self: bool = False) -> Tensor:
    """(B,) Euclidean distance from each row of ``points`` to its nearest row of ``others``."""
    dist = torch.cdist(points, others, compute_mode="donot_use_mm_for_euclid_dist")
    if exclude_self:
        dist.fill_diagonal_(float("inf"))
    return dist.min(-1).values


def classify(
    samples: Tensor, train: Tensor, delta_m: float, delta_s: float, settled: Tensor | None = None
) -> dict[str, float]:
    """Fractions memorised / spurious / generalised, and the median distances behind them. ``settled`` (B,) bool:
    the samples at an attractor (one more recall step moves them less than the tolerance); with it, the fraction at
    attractors overall and within each non-empty class."""
    d_train = nearest_distance(samples, train)
    d_samples = nearest_distance(samples, samples, exclude_self=True)
    memorised = d_train <= delta_m
    spurious = ~memorised & (d_samples <= delta_s)
    generalised = ~memorised & ~spurious
    masks = (memorised, spurious, generalised)
    out = {name: round(mask.double().mean().item(), 6) for name, mask in zip(CLASSES, masks, strict=True)}
    out["d_train_median"] = round(d_train.median().item(), 6)
    out["d_samples_median"] = round(d_samples.median().item(), 6)
    if settled is not None:
        out["at_attractor"] = round(settled.double().mean().item(), 6)
        for name, mask in zip(CLASSES, masks, strict=True):
            if mask.any():  # an empty class has no such fraction: the key is left out (never a null without reason)
                out[f"at_attractor_{name}"] = round(settled[mask].double().mean().item(), 6)
    return out


def settled(samples: Tensor, memories: Tensor, sigma: float, tolerance: float) -> Tensor:
    """(B, D) samples, (K, D) memories → (B,) bool: one more recall step (the denoiser at ``sigma``) moves a sample
    by less than ``tolerance``."""
    return (gaussian_denoise(samples, memories, sigma) - samples).norm(dim=-1) < tolerance


def median_nn(pool: Tensor) -> float:
    """Median distance from each image of the pool to its nearest other image: the data's length scale."""
    return nearest_distance(pool, pool, exclude_self=True).median().item()


# the experiment ---------------------------------------------------------------------------------------------------
def run(settings: Settings) -> tuple[dict, list[dict]]:
    data = load_processed(settings.dataset, settings.data_root)
    train_pool = data["x_train"].float().to(settings.device)
    pool = torch.cat([data["x_train"], data["x_test"]]).float().to(settings.device)
    if settings.train_sizes[-1] > len(train_pool):
        raise ConfigError(
            "generalisation.train_sizes",
            f"sizes ≤ {len(train_pool)} (the {settings.dataset} training split)",
            settings.train_sizes,
        )
    scale = median_nn(pool)
    binary_pool = (binarise(pool, settings.binarize_threshold, ties=-1.0) + 1) / 2
    binary_scale = median_nn(binary_pool)
    sigma_min = settings.sigma_min * scale
    levels = noise_levels(settings.sigma_max, sigma_min, settings.steps)
    deltas = {
        "continuous": (settings.delta_memorised * scale, settings.delta_spurious * scale),
        "binary": (settings.delta_memorised * binary_scale, settings.delta_spurious * binary_scale),
    }
    order = torch.randperm(len(train_pool), generator=generator_for(settings.seed, "train order"))
    dim = pool.shape[1]
    points: list[dict] = []
    for k in tqdm(settings.train_sizes, desc="generalisation K", leave=False, disable=None):
        start = time.perf_counter()
        train = train_pool[order[:k].to(settings.device)]  # nested training sets: K=10 ⊂ K=100 ⊂ …
        noise = torch.randn(settings.samples, dim, generator=generator_for(settings.seed, "noise", k))
        noise = noise.to(settings.device)
        few = noise[: settings.sweep_samples]  # the same noise, a prefix, for the sweep and the other arms
        tolerance = settings.attractor_tolerance * scale
        for arm in settings.arms:
            if arm == "optimal":
                for factor in settings.sigma_min_sweep:  # the same noise at every σ_min
                    starts = noise if factor == settings.sigma_min else few
                    stop = noise_levels(settings.sigma_max, factor * scale, settings.steps)
                    out = sample(train, starts, stop)
                    at = settled(out, train, stop[-1], tolerance)
                    result = classify(out, train, *deltas["continuous"], at)
                    points.append({"arm": arm, "K": k, "sigma_min": factor, "samples": len(starts), **result})
                continue
            if k not in settings.arm_sizes:  # the fixed-size arms train once per K: a coarser grid
                continue
            if arm == "backprop":
                theta = train_memory(train, settings, sigma_min, generator_for(settings.seed, "backprop", k))
                out = sample(theta, few, levels)
                at = settled(out, theta, levels[-1], tolerance)
                result = classify(out, train, *deltas["continuous"], at)
            else:
                spins = binarise(train, settings.binarize_threshold, ties=-1.0)
                memory = Hopfield(get_rule("hebb").fit(spins))
                starts = torch.where(few > 0, 1.0, -1.0)
                relax_gen = generator_for(settings.seed, "relax", k)
                relaxation = relax(memory, starts, "async", settings.max_sweeps, relax_gen)
                final = relaxation.states  # converged: an asynchronous sweep flips no bit (a fixed point)
                result = classify((final + 1) / 2, (spins + 1) / 2, *deltas["binary"], relaxation.converged)
            points.append({"arm": arm, "K": k, "sigma_min": settings.sigma_min, "samples": len(few), **result})
        line = ", ".join(
            f"{p['arm']} {p['memorised']:.2f}/{p['spurious']:.2f}/{p['generalised']:.2f}"
            for p in points
            if p["K"] == k and p["sigma_min"] == settings.sigma_min
        )
        say(f"generalisation K={k}: memorised/spurious/generalised {line} ({time.perf_counter() - start:.1f} s)")
    return {
        "median_nn_distance": round(scale, 6),
        "median_nn_distance_binary": round(binary_scale, 6),
        "sigma_min": round(sigma_min, 6),
        "delta_memorised": round(deltas["continuous"][0], 6),
        "delta_spurious": round(deltas["continuous"][1], 6),
        "attractor_tolerance": round(settings.attractor_tolerance * scale, 6),
    }, points


def wilson(fraction: float, count: int, z: float = 1.96) -> list[float]:
    """95% Wilson score interval of a fraction of ``count`` samples."""
    centre = (fraction + z * z / (2 * count)) / (1 + z * z / count)
    half = z / (1 + z * z / count) * math.sqrt(fraction * (1 - fraction) / count + z * z / (4 * count * count))
    return [round(max(0.0, centre - half), 6), round(min(1.0, centre + half), 6)]


def summarise(points: list[dict]) -> dict:
    """Per K: the fractions, their counts and 95% Wilson intervals (over that point's ``samples``), the fractions at
    attractors; the transition K; the spurious peak, whether it stands out (an interior K whose interval lies above
    the intervals at both ends of the K grid) and whether an end rules a peak out (an end's interval above every
    interior K's)."""
    ks = [p["K"] for p in points]
    out: dict = {}
    for p in points:
        count = p["samples"]
        out[f"K{p['K']}"] = {
            "K": p["K"],
            "samples": count,
            **{c: p[c] for c in CLASSES},
            "counts": {c: round(p[c] * count) for c in CLASSES},
            "intervals": {c: wilson(p[c], count) for c in CLASSES},
            **{key: p[key] for key in p if key.startswith("at_attractor")},
        }
    memorised = [p["memorised"] for p in points]
    transition = crossing(ks, memorised, TRANSITION_LEVEL, scale="log")
    peak = max(points, key=lambda p: p["spurious"])
    bounds = [wilson(p["spurious"], p["samples"]) for p in points]
    interior = bounds[1:-1]
    out.update(grid_estimate("transition_K", transition, ks, memorised, TRANSITION_LEVEL))
    out["spurious_peak_K"] = peak["K"]
    out["spurious_peak"] = peak["spurious"]
    out["spurious_peak_stands_out"] = peak["K"] not in (ks[0], ks[-1]) and bounds[ks.index(peak["K"])][0] > max(
        bounds[0][1], bounds[-1][1]
    )
    out["spurious_peak_ruled_out"] = bool(interior) and any(
        end[0] > max(high for _, high in interior) for end in (bounds[0], bounds[-1])
    )
    return out


def compute(settings: Settings, params: Params, tracker) -> dict[str, object]:
    """The stage's files: the record (fractions per arm and K, the transition K) and the curves."""
    with single_cpu_thread(settings.device):
        scales, points = run(settings)
    arms: dict = {}
    for arm in settings.arms:
        headline = [p for p in points if p["arm"] == arm and p["sigma_min"] == settings.sigma_min]
        arms[arm] = summarise(headline)
    sweep = {}
    if "optimal" in settings.arms:
        for factor in settings.sigma_min_sweep:
            mine = [p for p in points if p["arm"] == "optimal" and p["sigma_min"] == factor]
            sweep[f"{factor:g}"] = summarise(mine)
        smallest = sweep[f"{settings.sigma_min_sweep[0]:g}"]
        largest_k = f"K{settings.train_sizes[-1]}"
        limit = {
            "sigma_min": settings.sigma_min_sweep[0],
            "K": settings.train_sizes[-1],
            "memorised": smallest[largest_k]["memorised"],
            "memorised_interval": smallest[largest_k]["intervals"]["memorised"],
        }
    record = {
        "dataset": settings.dataset,
        "samples": settings.samples,
        "sweep_samples": settings.sweep_samples,
        **scales,
        "sigma_min_factor": settings.sigma_min,
        "arms": arms,
        "sigma_min_sweep": sweep,
        **({"sigma_min_to_zero": limit} if sweep else {}),
    }
    return {"generalisation.json": record, "generalisation_curves.json": points}


def main(args) -> None:
    run_stage(
        args,
        "generalisation",
        parse_settings,
        compute,
        headline=lambda record: select(record, "arms.*.transition_K", "arms.*.spurious_peak_K"),
        curves=(Curves("generalisation_curves.json", x="K", y=CLASSES, series=("arm", "sigma_min")),),
    )
