"""E3: image retrieval under the Universal Hopfield Networks protocol (Millidge et al. 2022), plus Hebbian and DAM
arms on binarised images under the same queries and the same threshold.

Protocol. The prepared image pool (every split of ``dataset``, pixels in [0, 1]) is permuted once per size N
(``generator_for(seed, "blocks", N)``); run r stores block r of N images, so the runs of one N use disjoint
images. Where the pool holds fewer than ``runs`` disjoint blocks of N, only the blocks that fit are used (the
record says how many). Each stored image is queried once per corruption; every arm sees the same corrupted queries.
A retrieval is correct when Σ(x - out)² ≤ 50 · D / 784 (the MNIST threshold of Millidge et al., scaled by D); the
same outputs are also scored at ``threshold_factors`` × that threshold (the threshold sweep: averaging separations
such as identity score well only when the threshold is loose).

Published orderings are measured under the condition where the paper states them: the similarity ordering with max
separation (Fig. 2 of Millidge et al.), against both dot products; the separation ordering with Manhattan similarity
(their separation figure). Each is a difference of fraction retrieved, averaged over the N grid per run (runs are
disjoint image blocks), with a 95% t-interval over runs.

UHN arms: out = w · M with w = sep(sim(M, q)). Similarities are Millidge et al.'s (``functions.py``): ``dot`` is the
raw dot product (``dot_product_distance``), ``l1_dot`` the dot product of L1-normalised vectors
(``normalized_dot_product``; the curve labelled "Dot Product" in the paper's similarity figure is this one, with max
separation), ``euclidean`` the *squared* distance Σ(q - m)² as in their ``euclidean_distance`` (the memory module's
``euclidean`` is the unsquared norm; with max separation the two agree), ``manhattan`` Σ|q - m|. Softmax and max
separation are :class:`UniversalHopfield` as it is. Identity and power separation need non-negative scores
normalised to sum 1, as in Millidge et al.'s code (``general_update_rule`` with ``norm=True``; distances enter as
reciprocals); the memory module's UHN applies the separation to the raw scores (a negative distance raised to a
power is not a weight), so those two are computed here: w_μ ∝ s_μ^k with s = sim for the dot-type similarities
(clamped at 0) and s = 1/distance for Euclidean and Manhattan; k = 1 is identity. The corruption asked for is the
one applied (the original capacity plot always applied Gaussian noise: that bug is not copied).

Binary arms (only at N in ``binary_sizes``: asynchronous relaxation at D = 784 is the stage's cost): the stored
images and the corrupted queries are binarised (x > ``data.binarize_threshold`` → +1, else -1; a hidden pixel reads
as background), recalled (Hopfield networks written by Hebb / Storkey / pseudo-inverse and polynomial DAMs relax
asynchronously; the softmax memory takes one step), mapped back by (s + 1)/2 and scored against the binarised image
with the same threshold (so it counts wrong bits: ≤ 50 of 784 on MNIST, ≤ 4 of 64 on digits).
"""

from __future__ import annotations

import math
import time

import torch
from torch import Tensor
from tqdm import tqdm

from .. import references as ref
from ..config import ConfigError, Params
from ..data.corrupt import corrupt
from ..data.prepare import SPLITS, load_processed
from ..dynamics import relax, single_cpu_thread
from ..engine import recall_precision
from ..logs import say
from ..memory import Amari, DenseAM, Kohonen, ModernHopfield, Power, build, get_kind
from ..memory.core import normalised_separate, project
from ..memory.universal import EPS, SIMILARITIES, squared_euclidean
from ..metrics import binarise
from ..rules import get_rule
from ..settings import retrieval as schema
from ..settings.retrieval import BinaryArm, Settings
from .common import Curves, built, compute_device, generator_for, run_stage, select

DISTANCES = ("euclidean", "manhattan")  # similarities that are negative distances
DOT_PRODUCTS = ("dot", "l1_dot")  # raw (favours bright memories) and L1-normalised (the paper's figure)
SIMILARITY_CONDITION = "max"  # separation under which the similarity ordering is published (Millidge et al. Fig. 2)
SEPARATION_CONDITION = "manhattan"  # similarity under which the separation ordering is published (their sep. figure)
T_975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}  # Student t
EXAMPLE_DIGITS = 4  # decimals kept for the example images (display only)


def parse_settings(params: Params) -> Settings:
    """The settings of :mod:`hebbdam.settings.retrieval`, checked whole before any work, with their rules and
    separations built and this machine's device."""
    return built(schema.parse_settings(params, device=compute_device(params)))


E3_SIMILARITIES = {**SIMILARITIES, "euclidean": squared_euclidean}  # Millidge et al.'s Euclidean is squared


def error_threshold(dim: int) -> float:
    """Σ(x - out)² that still counts as retrieved: 50 on MNIST (D = 784), scaled by D / 784 elsewhere."""
    return ref.UHN_ERROR_THRESHOLD.value * dim / ref.UHN_ERROR_THRESHOLD_DIM


# recall ---------------------------------------------------------------------------------------------------------------
def uhn_weights(scores: Tensor, similarity: str, separation: str, power: int, beta: float) -> Tensor:
    """Separation weights (B, N) from similarity scores (B, N) by the recall core's
    ``memory.core.normalised_separate``: softmax and max exactly :class:`UniversalHopfield`'s (a test checks it),
    identity and power normalised as in Millidge et al.'s code (see the module docstring)."""
    return normalised_separate(scores, separation, beta, power, distance=similarity in DISTANCES, floor=EPS)


def binary_memory(arm: BinaryArm, patterns: Tensor):
    """The arm's memory over ±1 patterns (N, D), built by the memory registry from the rule's write (a hopfield arm)
    or the patterns themselves, with the separation xⁿ (``n``) or the inverse temperature (``beta``) the schema read."""
    stored = patterns if arm.rule is None else get_rule(arm.rule).fit(patterns)
    separation = None if arm.n is None else Power(arm.n)
    options = {} if arm.beta is None else {"beta": arm.beta}
    return build(arm.model, stored, patterns.shape[1], options, separation)


def binary_recall(arm: BinaryArm, memory, queries: Tensor, max_sweeps: int, generator: torch.Generator) -> Tensor:
    """(B, D) ±1 queries → (B, D) states in [-1, 1]: a binary kind (``MemoryKind.binary``) relaxes asynchronously, a
    continuous one (the softmax memory) is read in one step, as Millidge et al. read it."""
    if not get_kind(arm.model).binary:
        with torch.no_grad():
            return memory.step(queries)
    return relax(memory, queries, mode="async", max_sweeps=max_sweeps, generator=generator).states


def squared_error(outputs: Tensor, targets: Tensor) -> Tensor:
    """(B,) Σ(x - out)², the quantity the retrieval threshold applies to."""
    return (outputs - targets).square().sum(-1)


def retrieved(outputs: Tensor, targets: Tensor, threshold: float) -> Tensor:
    """(B,) bool: Σ(x - out)² ≤ threshold."""
    return squared_error(outputs, targets) <= threshold


# the experiment -------------------------------------------------------------------------------------------------------
def load_pool(settings: Settings) -> tuple[Tensor, tuple[int, int, int]]:
    """All prepared images of the dataset (train, val, test), (M, D) in [0, 1], and the image shape (C, H, W)."""
    data = load_processed(settings.dataset, settings.data_root)
    pool = torch.cat([data[f"x_{split}"] for split in SPLITS if f"x_{split}" in data]).float()
    channels, height, width = (int(s) for s in data["image_shape"].tolist())
    return pool, (channels, height, width)


def blocks(settings: Settings, pool_size: int, size: int) -> list[Tensor]:
    """Disjoint index blocks of ``size`` rows: min(runs, pool_size // size) of them."""
    order = torch.randperm(pool_size, generator=generator_for(settings.seed, "blocks", size))
    count = min(settings.runs, pool_size // size)
    return [order[r * size : (r + 1) * size] for r in range(count)]


def measure_size(settings: Settings, pool: Tensor, shape, size: int, threshold: float) -> list[dict]:
    """Every arm at one N: one curve point per (family, arm, corruption), with the fraction retrieved per run and at
    every threshold factor."""
    hits: dict[tuple[str, str, str], list[Tensor]] = {}  # per run: (factors,) fraction retrieved
    device = settings.device
    limits = torch.tensor(settings.threshold_factors, dtype=torch.float64) * threshold

    def score(key: tuple[str, str, str], outputs: Tensor, targets: Tensor) -> None:
        errors = squared_error(outputs, targets).double().cpu()
        hits.setdefault(key, []).append((errors[:, None] <= limits[None]).double().mean(0))

    runs = blocks(settings, len(pool), size)
    for run, index in enumerate(runs):
        images = pool[index].to(device)
        patterns = binarise(images, settings.binarize_threshold, ties=-1.0)
        arms = settings.binary_arms if size in settings.binary_sizes else []
        memories = {arm.name: binary_memory(arm, patterns) for arm in arms}
        for c in settings.corruptions:
            generator = generator_for(settings.seed, "query", c.name, size, run)
            queries = corrupt(images.cpu(), c.kind, c.level, shape, generator).to(device)
            for sim in settings.similarities:
                scores = E3_SIMILARITIES[sim](queries, images)  # once per similarity, shared by the separations
                for sep in settings.separations:
                    out = project(uhn_weights(scores, sim, sep, settings.power, settings.beta[sim]), images)
                    score(("uhn", f"{sim}/{sep}", c.name), out, images)
            binary_queries = binarise(queries, settings.binarize_threshold, ties=-1.0)
            for arm in arms:
                relax_gen = generator_for(settings.seed, "relax", arm.name, c.name, size, run)
                states = binary_recall(arm, memories[arm.name], binary_queries, settings.max_sweeps, relax_gen)
                score(("binary", arm.name, c.name), (states + 1) / 2, (patterns + 1) / 2)
    at_threshold = settings.threshold_factors.index(1.0)
    points = []
    for (family, arm_name, corruption), values in hits.items():
        table = torch.stack(values)  # (runs, factors)
        per_run = table[:, at_threshold]
        points.append(
            {
                "family": family,
                "arm": arm_name,
                "corruption": corruption,
                "N": size,
                "runs": len(values),
                "retrieved": round(per_run.mean().item(), 6),
                "retrieved_std": round(per_run.std().item(), 6) if len(values) > 1 else 0.0,
                "retrieved_per_run": [round(v, 6) for v in per_run.tolist()],
                "retrieved_by_threshold": [round(v, 6) for v in table.mean(0).tolist()],
            }
        )
    return points


def examples(settings: Settings, pool: Tensor, shape) -> dict:
    """The prospectus's Figure 1: one masked query → Amari, Kohonen, DAM and softmax recall, for a few images."""
    ex = settings.examples
    index = torch.randperm(len(pool), generator=generator_for(settings.seed, "examples"))[: ex.stored]
    images = pool[index]
    patterns = binarise(images, settings.binarize_threshold, ties=-1.0)
    c = next(c for c in settings.corruptions if c.name == ex.corruption)
    query = corrupt(images[: ex.count], c.kind, c.level, shape, generator_for(settings.seed, "examples", "query"))
    spins = binarise(query, settings.binarize_threshold, ties=-1.0)
    relax_gen = generator_for(settings.seed, "examples", "relax")
    amari = relax(Amari(patterns, zero_diagonal=True), spins, "async", settings.max_sweeps, relax_gen).states
    kohonen = Kohonen(patterns).step(spins)  # linear: shown min-max scaled per image
    low, high = kohonen.amin(-1, keepdim=True), kohonen.amax(-1, keepdim=True)
    kohonen = (kohonen - low) / (high - low).clamp_min(EPS)
    dense = relax(DenseAM(patterns, Power(ex.dam_n)), spins, "async", settings.max_sweeps, relax_gen).states
    with torch.no_grad():
        softmax = ModernHopfield(patterns, ex.softmax_beta).step(spins)

    def rows(x: Tensor) -> list[list[float]]:
        return [[round(v, EXAMPLE_DIGITS) for v in row] for row in x.tolist()]

    return {
        "shape": list(shape),
        "stored": ex.stored,
        "corruption": c.name,
        "dam_n": ex.dam_n,
        "softmax_beta": ex.softmax_beta,
        "images": {
            "original": rows(images[: ex.count]),
            "binarised": rows((patterns[: ex.count] + 1) / 2),
            "query": rows(query),
            "amari": rows((amari + 1) / 2),
            "kohonen": rows(kohonen),
            "dense": rows((dense + 1) / 2),
            "softmax": rows((softmax + 1) / 2),
        },
    }


def mean_over_sizes(points: list[dict]) -> dict:
    """{family: {corruption: {arm: mean fraction retrieved over the N grid}}} (the area under each curve)."""
    grouped: dict[tuple[str, str, str], list[float]] = {}
    for p in points:
        grouped.setdefault((p["family"], p["corruption"], p["arm"]), []).append(p["retrieved"])
    out: dict = {}
    for (family, corruption, arm), values in grouped.items():
        out.setdefault(family, {}).setdefault(corruption, {})[arm] = round(sum(values) / len(values), 6)
    return out


def interval(values: list[float]) -> dict:
    """Mean of per-run values with a 95% Student-t interval over runs (a single run: the interval is the point)."""
    mean = sum(values) / len(values)
    if len(values) < 2:
        return {"mean": round(mean, 6), "low": round(mean, 6), "high": round(mean, 6), "runs": len(values)}
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    half = T_975.get(len(values) - 1, 1.96) * sd / math.sqrt(len(values))
    return {"mean": round(mean, 6), "low": round(mean - half, 6), "high": round(mean + half, 6), "runs": len(values)}


def difference(points: list[dict], corruption: str, better: str, worse: str) -> dict | None:
    """Fraction retrieved by arm ``better`` minus arm ``worse`` (UHN), averaged over the N grid per run, with its
    interval over runs; None when either arm is missing. Sizes with fewer runs than the most contribute their runs."""
    curve = {
        (p["arm"], p["N"]): p["retrieved_per_run"]
        for p in points
        if p["family"] == "uhn" and p["corruption"] == corruption
    }
    sizes = sorted({n for arm, n in curve if arm == better} & {n for arm, n in curve if arm == worse})
    if not sizes:
        return None
    runs = max(len(curve[(better, n)]) for n in sizes)
    per_run = []
    for r in range(runs):
        diffs = [curve[(better, n)][r] - curve[(worse, n)][r] for n in sizes if r < len(curve[(better, n)])]
        per_run.append(sum(diffs) / len(diffs))
    return interval(per_run)


def orderings(points: list[dict], similarities: list[str], separations: list[str]) -> dict:
    """The published orderings under the paper's conditions, per corruption (> 0: the published ordering holds).

    ``<distance>_minus_<dot>/max``: Euclidean or Manhattan minus each dot product, max separation;
    ``<sep>_minus_identity/manhattan``: each sharper separation minus identity, Manhattan similarity.
    Each value states its fields: ``better``, ``worse``, ``condition`` and the difference's mean and 95% interval.
    """

    def stated(value: dict | None, better: str, worse: str, condition: str) -> dict | None:
        return None if value is None else {"better": better, "worse": worse, "condition": condition, **value}

    out: dict = {}
    for corruption in sorted({p["corruption"] for p in points}):
        entry = {}
        if SIMILARITY_CONDITION in separations:
            for dist in (d for d in DISTANCES if d in similarities):
                for dot in (d for d in DOT_PRODUCTS if d in similarities):
                    value = difference(
                        points, corruption, f"{dist}/{SIMILARITY_CONDITION}", f"{dot}/{SIMILARITY_CONDITION}"
                    )
                    entry[f"{dist}_minus_{dot}/{SIMILARITY_CONDITION}"] = stated(value, dist, dot, SIMILARITY_CONDITION)
        if SEPARATION_CONDITION in similarities and "identity" in separations:
            for sep in (s for s in separations if s != "identity"):
                value = difference(
                    points, corruption, f"{SEPARATION_CONDITION}/{sep}", f"{SEPARATION_CONDITION}/identity"
                )
                entry[f"{sep}_minus_identity/{SEPARATION_CONDITION}"] = stated(
                    value, sep, "identity", SEPARATION_CONDITION
                )
        out[corruption] = entry
    return out


def threshold_sweep(points: list[dict], factors: list[float], threshold: float) -> dict:
    """{corruption: {arm: fraction retrieved at each threshold}} for the UHN arms, averaged over the N grid."""
    grouped: dict[tuple[str, str], list[list[float]]] = {}
    for p in points:
        if p["family"] == "uhn":
            grouped.setdefault((p["corruption"], p["arm"]), []).append(p["retrieved_by_threshold"])
    out: dict = {"thresholds": [round(f * threshold, 6) for f in factors]}
    for (corruption, arm), rows in sorted(grouped.items()):
        out.setdefault(corruption, {})[arm] = [round(sum(col) / len(col), 6) for col in zip(*rows, strict=True)]
    return out


def nested(flat: dict) -> dict:
    """{"sim/sep": v} → {sim: {sep: v}} (dotted keys for the gate)."""
    out: dict = {}
    for key, value in flat.items():
        sim, sep = key.split("/")
        out.setdefault(sim, {})[sep] = value
    return out


def run(settings: Settings) -> tuple[dict, list[dict], dict]:
    pool, shape = load_pool(settings)
    dim = pool.shape[1]
    if settings.sizes[-1] > len(pool):
        raise ConfigError("retrieval.sizes", f"sizes ≤ {len(pool)} (the {settings.dataset} pool)", settings.sizes)
    if settings.examples.stored > len(pool):
        raise ConfigError("retrieval.examples.stored", f"at most {len(pool)}", settings.examples.stored)
    threshold = error_threshold(dim)
    points: list[dict] = []
    for size in tqdm(settings.sizes, desc="retrieval N", leave=False, disable=None):
        start = time.perf_counter()
        new = measure_size(settings, pool, shape, size, threshold)
        points.extend(new)
        best = max((p for p in new if p["family"] == "uhn"), key=lambda p: p["retrieved"])
        say(
            f"retrieval N={size} ({new[0]['runs']} runs): best UHN {best['arm']} {best['corruption']} "
            f"{best['retrieved']:.2f} ({time.perf_counter() - start:.1f} s)"
        )
    means = mean_over_sizes(points)
    uhn = means.get("uhn", {})
    summary = {
        "dataset": settings.dataset,
        "dim": dim,
        "threshold": round(threshold, 6),
        "runs": {f"N{p['N']}": p["runs"] for p in points if p["family"] == "uhn"},
        "uhn": {corruption: nested(arms) for corruption, arms in uhn.items()},
        "binary": means.get("binary", {}),
        "binary_sizes": [n for n in settings.binary_sizes if n in settings.sizes],
        "similarity_condition": SIMILARITY_CONDITION,
        "separation_condition": SEPARATION_CONDITION,
        "orderings": orderings(points, settings.similarities, settings.separations),
        "threshold_sweep": threshold_sweep(points, settings.threshold_factors, threshold),
    }
    return summary, points, examples(settings, pool, shape)


def compute(settings: Settings, params: Params, tracker) -> dict[str, object]:
    """The stage's files: the record (mean fraction retrieved per arm), the curves, the example images."""
    with single_cpu_thread(settings.device), recall_precision(params, settings.device):
        summary, points, example = run(settings)
    return {"retrieval.json": summary, "retrieval_curves.json": points, "retrieval_examples.json": example}


def main(args) -> None:
    run_stage(
        args,
        "retrieval",
        parse_settings,
        compute,
        headline=lambda record: select(record, "binary.gaussian.*", "uhn.gaussian.*.softmax"),
        curves=(Curves("retrieval_curves.json", x="N", y=("retrieved",), series=("family", "arm", "corruption")),),
    )
