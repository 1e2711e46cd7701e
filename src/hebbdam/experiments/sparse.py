"""Sparse codes: how much each local rule retrieves per synapse as the coding level f falls, and the holographic
memory's capacity law (issue 25, parts 1, 2 and 4).

Patterns are 0/1 with exactly k = round(f·D) active units (``data.synthetic.sparse_binary``; BCPNN: its own modular
code, H = D // M hypercolumns of M = round(1/f) units, one active per hypercolumn, ``data.synthetic.modular``). A cue
is the pattern with ``removed``·k of its active units switched off (and ``added``·k inactive units switched on).
Arms, each a registry rule written into a registry memory kind (``epochs`` passes: the delta rule iterates) and read
in one synchronous step (``sweeps`` = 1), or relaxed by synchronous steps until nothing changes, at most ``sweeps``
(attractor recall, ``dynamics.relax``; BCPNN: its soft winner-take-all steps, then the winner per hypercolumn):
- ``willshaw``: clipped binary W, a unit on when its sum reaches the cue's activity;
- ``threshold``: the covariance rule (mean f) with the threshold θ = (1 - f)(½ - f)|c|/D (Tsodyks & Feigel'man);
- ``bcpnn``: log-odds weights and log-prior biases from co-activation counts, winner per hypercolumn;
- ``projection``: a pairwise W written on the 0/1 patterns themselves (the pseudo-inverse of the 0/1 code), read
  with the relative threshold ½|c|/(f·D);
- ``hopfield`` (Storkey, delta, pseudo-inverse): the same patterns as ±1 (2ξ - 1), zero threshold, sign read-out;
- ``backprop`` (nonlocal): a symmetric zero-diagonal W of the ``projection`` kind (the same read-out, θ = ½|c|/(f·D),
  M = D²) trained by gradient descent to complete each pattern from fresh cues of the stage's kind
  (``lit.backprop.SparseCompletion``: cross-entropy of σ(gain·(field − θ)) against the pattern; Adam from W = 0),
  every fit until its plateau (``lit.backprop.fit_until_plateau``: epoch losses flat within ``tolerance`` over
  ``window`` updates, or the loss at most ``floor``) or the cap ``updates``. At each coding level the lrs ``lrs`` are
  swept on one stored set of P = ``sweep_load``·M/S patterns, the best on the criterion (exact recall, then
  information) chosen (up to two steps past an edge), and every trial of the grid (each its own patterns and seed)
  is trained at that lr, the fits in parallel (``parallel.map_fits``). The record's ``training`` holds the lr chosen
  and the sweep, every fit's updates, plateau flag, stalled flag (flat at its first epoch's loss: the optimiser never
  moved it) and loss, the fits that stopped on the cap or stalled, and ``status``: "converged" only when every fit
  reached its plateau, else "not converged".

E8a's capacity protocol: all P patterns presented and all P scored; P₀.₉ (90% of the P patterns recalled exactly)
with a 95% interval that resamples the trials; information per synapse max over P of I/M with

    I = P · S · (L_cue − L_out)⁺ / L_cue,

S the pattern's entropy (D·H₂(f) for the k-of-D code, H·log₂M for the modular code), L the bits per pattern the
errors destroy (the equivocation: D·H(ξ | ξ̂) from the pooled confusion of stored and returned units; modular:
blank hypercolumns log₂M each, the others H₂(e) + e·log₂(M − 1) at their error rate e), L_cue that of the cue.
A memory that returns its cue unchanged gets 0, a perfect memory P·S (at f = ½ and flipped bits this is E8a's
P·D·(H₂(ρ) − H₂(ε))⁺/H₂(ρ)). M is the parameter count of the kind (D² pairwise; D² + D with BCPNN's biases).

The grid of P is given in bits per synapse b (P = b·M/S); the scan stops after ``STOP_AFTER`` points that recall
fewer than half of the patterns and add no information, then the bracket of P₀.₉ is bisected.

Holographic (Plate 1995): ``items`` random vectors N(0, 1/D) form the clean-up memory; K pairs of items bound by
circular convolution in one trace; each pair's first item unbinds the second by circular correlation and clean-up.
K₀.₉ (90% of the K probes return the right item) per D, and the law K₀.₉ ∝ D as a log-log slope with a 95%
interval (the trials resampled at every D).
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass
from typing import Any

import torch

from ..config import Params
from ..data.synthetic import modular, sparse_binary, sparse_cue
from ..dynamics import relax, single_cpu_thread
from ..errors import DivergedError
from ..lit.backprop import BackpropModule, PairwiseWeights, SparseCompletion, fit_until_plateau
from ..logs import say
from ..memory import Memory, build, get_kind
from ..metrics import binary_entropy, bootstrap_best, bootstrap_crossing, crossing, loglog_slope
from ..parallel import map_fits
from ..rules import Rule, get_rule
from ..settings import sparse as schema
from ..settings.sparse import BACKPROP, BACKPROP_MEMORY, Arm, Settings
from .common import Curves, built, extended_sweep, generator_for, run_stage, select

LEVEL = 0.9
HALF = 0.5
STOP_AFTER = 2
REFINEMENTS = 2
BOOTSTRAP_SAMPLES = 200
BACKPROP_DEFAULTS: dict[str, float] = {  # a backprop arm's options left out (settings.sparse.BACKPROP_INTS / _NUMBERS)
    "updates": 3000,  # the cap of gradient updates of one fit
    "window": 100,  # the plateau: epoch losses within ``tolerance`` of each other over this many updates
    "tolerance": 0.01,
    "floor": 1e-3,  # a mean cross-entropy per unit of 1e-3 solves the stored set (every unit far on its side)
    "batch_size": 64,
    "epoch_updates": 50,  # updates per epoch (the plateau is checked after each)
    "gain": 4.0,  # the surrogate σ(gain·(field − θ)); W is free, so it only rescales the start and the lr
    "sweep_load": 0.05,  # the lr sweep's stored set: P = sweep_load·M/S (bits per synapse at perfect recall)
}
BOUNDS = {  # bits per synapse (M = D²): the published asymptotes the figure draws
    "willshaw": math.log(2.0),  # Willshaw et al. 1969; Palm 1980
    "gardner_sparse": 1.0 / (2.0 * math.log(2.0)),  # Gardner 1988; Tsodyks & Feigel'man 1988
    "hebb_dense": 0.138 * 1.0,  # Amit, Gutfreund & Sompolinsky 1985: α_c ≈ 0.138 bits per synapse at f = ½
}


def parse_settings(params: Params) -> Settings:
    """The settings of :mod:`hebbdam.settings.sparse`, checked whole before any work, on the CPU."""
    return built(schema.parse_settings(params, device=torch.device("cpu")))


def writer(arm: Arm, coding: float) -> Rule:
    """The arm's rule at coding level f (:meth:`hebbdam.settings.sparse.Arm.writer_hyper`)."""
    return get_rule(arm.rule, **arm.writer_hyper(coding))


def coding_key(coding: float) -> str:
    """The record key of a coding level, without a dot: 0.03 → "f0_03"."""
    return "f" + f"{coding:g}".replace(".", "_")


# codes and their information ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Code:
    """The patterns an arm stores at one coding level: ``dim`` units, ``modules`` hypercolumns of ``units`` each
    (0 for a k-of-D code), ``coding`` the fraction of active units, ``entropy`` S in bits per pattern."""

    dim: int
    coding: float
    modules: int = 0
    units: int = 0

    @property
    def entropy(self) -> float:
        if self.modules:
            return self.modules * math.log2(self.units)
        return self.dim * binary_entropy(self.coding)

    def draw(self, count: int, generator: torch.Generator) -> torch.Tensor:
        """(count, dim) 0/1 patterns of this code."""
        if self.modules:
            return modular(count, self.modules, self.units, generator)
        return sparse_binary(count, self.dim, self.coding, generator)

    def loss(self, targets: torch.Tensor, outputs: torch.Tensor) -> float:
        """Bits per pattern the differences between ``outputs`` and ``targets`` (P, D) destroy (the equivocation)."""
        if self.modules:
            return modular_loss(targets, outputs, self.modules, self.units)
        return unit_loss(targets, outputs)


def code_for(memory: str, dim: int, coding: float) -> Code:
    """A modular kind's code (BCPNN: M = round(1/f) units per hypercolumn, H = D // M), else the k-of-D code."""
    if not get_kind(memory).modular:
        active = max(1, round(coding * dim))
        return Code(dim, active / dim)
    units = max(2, round(1.0 / coding))
    modules = max(1, dim // units)
    return Code(modules * units, 1.0 / units, modules, units)


def unit_loss(targets: torch.Tensor, outputs: torch.Tensor) -> float:
    """D·H(ξ | ξ̂) in bits per pattern from the confusion of stored and returned units pooled over (P, D):
    Σ_y P(ξ̂ = y)·H₂(P(ξ = 1 | ξ̂ = y)), times D."""
    loss = 0.0
    for value in (0.0, 1.0):
        chosen = outputs == value
        share = float(chosen.double().mean())
        if share > 0:
            loss += share * binary_entropy(float(targets[chosen].double().mean()))
    return targets.shape[1] * loss


def modular_loss(targets: torch.Tensor, outputs: torch.Tensor, modules: int, units: int) -> float:
    """Bits per pattern lost in a modular code: a hypercolumn without a single active unit (blank) loses log₂M, the
    others H₂(e) + e·log₂(M − 1) at their error rate e (a symmetric channel over the M units)."""
    rows = targets.shape[0]
    true = targets.view(rows, modules, units)
    out = outputs.view(rows, modules, units)
    single = out.sum(2) == 1
    blank = float((~single).double().sum()) / rows
    answered = float(single.double().sum())
    if answered == 0:
        return blank * math.log2(units)
    wrong = float(((true != out).any(2) & single).double().sum()) / answered
    symmetric = binary_entropy(wrong) + wrong * math.log2(units - 1) if units > 2 else binary_entropy(wrong)
    return blank * math.log2(units) + answered / rows * symmetric


def retrieved_bits(count: int, entropy: float, cue_loss: float, out_loss: float) -> float:
    """I = P·S·(L_cue − L_out)⁺/L_cue (P·(S − L_out)⁺ for a perfect cue): what the memory restores."""
    if cue_loss <= 0.0:
        return count * max(0.0, entropy - out_loss)
    return count * entropy * max(0.0, cue_loss - out_loss) / cue_loss


# one arm ----------------------------------------------------------------------------------------------------------
def read(memory, cues: torch.Tensor, sweeps: int) -> torch.Tensor:
    """One synchronous step (``sweeps`` = 1) or synchronous relaxation for at most ``sweeps`` steps: (P, D) → (P, D)."""
    return memory.step(cues) if sweeps == 1 else relax(memory, cues, mode="sync", max_sweeps=sweeps).states


def recall(arm: Arm, code: Code, patterns: torch.Tensor, cues: torch.Tensor) -> torch.Tensor:
    """Write ``patterns`` (P, D) with the arm's rule (``epochs`` passes), read every cue (P, D) in one step or by
    relaxation (``sweeps``) → (P, D) 0/1."""
    rule = writer(arm, code.coding)
    if get_kind(arm.memory).binary:  # a ±1 memory: the 0/1 code is read as ±1
        memory = build(arm.memory, rule.fit(2.0 * patterns - 1.0, epochs=arm.epochs), code.dim)
        return (read(memory, 2.0 * cues - 1.0, arm.sweeps) + 1.0) / 2.0
    options = {"coding": code.coding, "hypercolumns": code.modules, **arm.options}
    memory = build(arm.memory, rule.fit(patterns, epochs=arm.epochs), code.dim, options)
    if get_kind(arm.memory).modular:  # soft winner-take-all steps (if any), then the winner of each hypercolumn
        return memory.winners(cues if arm.sweeps == 1 else read(memory, cues, arm.sweeps - 1))
    return read(memory, cues, arm.sweeps)


def option(arm: Arm, key: str) -> float:
    """A backprop arm's option ``key``, or its default (:data:`BACKPROP_DEFAULTS`)."""
    return float(arm.options.get(key, BACKPROP_DEFAULTS[key]))


def trained(
    arm: Arm, code: Code, patterns: torch.Tensor, settings: Settings, lr: float, seed: int
) -> tuple[Memory, dict]:
    """A pairwise W (D, D) trained by backprop (Adam at ``lr``, from W = 0) to complete the patterns (P, D) from
    fresh cues of the stage's kind (:class:`hebbdam.lit.backprop.SparseCompletion`), until its plateau
    (``lit.backprop.fit_until_plateau``: the epoch loss flat within ``tolerance`` over ``window`` updates, or at most
    ``floor``) or the cap ``updates``. Returns the ``projection`` read-out and {lr, updates, converged, stalled, loss}
    (a diverged fit: W = 0, not converged, ``diverged``; stalled: flat at its first epoch's loss, not converged)."""
    objective = SparseCompletion(code.coding, settings.removed, settings.added, option(arm, "gain"))
    weights = PairwiseWeights(code.dim, init_std=0.0, seed=seed)
    module = BackpropModule(weights, objective, lr=lr, seed=seed)
    try:
        summary = fit_until_plateau(
            module,
            patterns,
            int(option(arm, "batch_size")),
            int(option(arm, "updates")),
            int(option(arm, "window")),
            option(arm, "tolerance"),
            settings.trainer,
            floor=option(arm, "floor"),
            updates_per_epoch=int(option(arm, "epoch_updates")),
        )
    except DivergedError:
        start = PairwiseWeights(code.dim, init_std=0.0, seed=seed)
        return objective.export(start), {"lr": lr, "updates": 0, "converged": False, "stalled": False, "loss": None,
                                        "diverged": True}  # fmt: skip
    info = {"lr": lr, **{key: summary[key] for key in ("updates", "converged", "stalled")}}
    return objective.export(module.memory), {**info, "loss": round(float(summary["loss"]), 6)}


@dataclass(frozen=True)
class Completion:
    """One independent backprop fit of the race (picklable: it runs in a worker process of ``parallel.map_fits``):
    the arm at ``lr`` from ``seed`` on the stored ``patterns`` (P, D), then read from their ``cues`` (P, D)."""

    arm: Arm
    code: Code
    patterns: torch.Tensor
    cues: torch.Tensor
    settings: Settings
    lr: float
    seed: int


def run_completion(item: Completion) -> tuple[torch.Tensor, dict]:
    """:func:`trained` of one item, then its read-out of the cues: the recalled states (P, D) and what the fit
    reports (``parallel.map_fits``'s function: module level, one torch thread)."""
    memory, info = trained(item.arm, item.code, item.patterns, item.settings, item.lr, item.seed)
    return read(memory, item.cues, item.arm.sweeps), info


def recalled_trials(
    arm: Arm, code: Code, stored: list[tuple[torch.Tensor, torch.Tensor, torch.Generator]], settings: Settings, lr
) -> list[tuple[torch.Tensor, dict]]:
    """The recalled states (P, D) of every stored set (patterns, cues, its generator) and what its fit reports: a
    backprop arm trains each at ``lr`` from a seed drawn from its generator after the patterns and cues, the fits
    in parallel (``parallel.map_fits``); the others write and read here and report nothing."""
    if arm.rule != BACKPROP:
        return [(recall(arm, code, patterns, cues), {}) for patterns, cues, _ in stored]
    assert lr is not None  # measure_curve passes the lr the sweep chose
    items = [
        Completion(arm, code, patterns, cues, settings, lr, int(torch.randint(2**31 - 1, (1,), generator=generator)))
        for patterns, cues, generator in stored
    ]
    return map_fits(run_completion, items)


def measure_point(arm: Arm, code: Code, count: int, settings: Settings, lr: float | None = None) -> dict:
    """Every trial at P = ``count``: exact-recall fraction and information per synapse per trial (a backprop arm at
    ``lr``: also every fit's updates, plateau flag and final loss, ``fit``)."""
    budget = get_kind(arm.memory).parameters(code.dim, 0)
    stored = []
    for trial in range(settings.trials):
        generator = generator_for(settings.seed, arm.name, code.dim, code.coding, count, trial)
        patterns = code.draw(count, generator)
        stored.append((patterns, sparse_cue(patterns, settings.removed, settings.added, generator), generator))
    exact, information, fits = [], [], []
    for (patterns, cues, _), (outputs, fit) in zip(
        stored, recalled_trials(arm, code, stored, settings, lr), strict=True
    ):
        fits.append(fit)
        exact.append(float((outputs == patterns).all(1).double().mean()))
        bits = retrieved_bits(count, code.entropy, code.loss(patterns, cues), code.loss(patterns, outputs))
        information.append(bits / budget)
    point = {
        "arm": arm.name,
        "coding": code.coding,
        "patterns": count,
        "exact": round(sum(exact) / len(exact), 6),
        "exact_trials": [round(v, 6) for v in exact],
        "information": round(sum(information) / len(information), 6),
        "information_trials": [round(v, 6) for v in information],
    }
    if arm.rule == BACKPROP:
        point["fit"] = {key: [f[key] for f in fits] for key in ("updates", "converged", "stalled", "loss")}
    return point


def grid(arm: Arm, code: Code, loads: list[float]) -> list[int]:
    """P = b·M/S per load b (bits per synapse at perfect recall), at least 1, distinct, ascending."""
    budget = get_kind(arm.memory).parameters(code.dim, 0)
    return sorted({max(1, round(load * budget / code.entropy)) for load in loads})


def measure_curve(arm: Arm, code: Code, settings: Settings, lr: float | None = None) -> list[dict]:
    """Scan the grid until ``STOP_AFTER`` points recall fewer than half and add no information, then bisect the
    bracket of P₀.₉ ``REFINEMENTS`` times (geometric midpoints); a backprop arm trains every fit at ``lr``."""
    points: dict[int, dict] = {}
    below, best = 0, -1.0
    for count in grid(arm, code, arm.loads or settings.loads):
        points[count] = point = measure_point(arm, code, count, settings, lr)
        below = below + 1 if point["exact"] < HALF and point["information"] <= best else 0
        best = max(best, point["information"])
        if below >= STOP_AFTER:
            break
    for _ in range(REFINEMENTS):
        ordered = sorted(points)
        bracket = next(
            (
                (a, b)
                for a, b in zip(ordered, ordered[1:], strict=False)
                if points[b]["exact"] < LEVEL <= points[a]["exact"]
            ),
            None,
        )
        if bracket is None:
            break
        middle = round(math.sqrt(bracket[0] * bracket[1]))
        if middle in bracket:
            break
        points[middle] = measure_point(arm, code, middle, settings, lr)
    return [points[count] for count in sorted(points)]


# the backprop arm's learning rate and convergence -----------------------------------------------------------------
def sweep_score(code: Code, patterns: torch.Tensor, cues: torch.Tensor, fitted: tuple[torch.Tensor, dict]) -> dict:
    """One fit of the sweep (its recalled states (P, D) and report) scored on the stage's criterion: exact recall of
    the P patterns from their cues and information per synapse, with what the fit reports."""
    outputs, info = fitted
    budget = get_kind(BACKPROP_MEMORY).parameters(code.dim, 0)
    bits = retrieved_bits(patterns.shape[0], code.entropy, code.loss(patterns, cues), code.loss(patterns, outputs))
    exact = float((outputs == patterns).all(1).double().mean())
    return {**info, "exact": round(exact, 6), "information": round(bits / budget, 6)}


def sweep_rank(fit: dict) -> tuple[float, float, float]:
    """The order of the sweep (smaller is better): more patterns recalled exactly, more information, lower loss."""
    loss = fit["loss"] if fit["loss"] is not None else math.inf
    return (-fit["exact"], -fit["information"], loss)


def choose_lr(arm: Arm, code: Code, settings: Settings) -> dict:
    """The lr of a backprop arm at one coding level: every lr of ``lrs`` trained to its plateau on one stored set of
    P = ``sweep_load``·M/S patterns (its own seeded draw) and the best on the criterion chosen (:func:`sweep_rank`);
    a chosen lr at the edge of the sweep extends it by the sweep's ratio, one lr at a time, at most
    ``common.LR_EXTENSIONS`` times (``common.extended_sweep``). Returns the lr, the lrs tried, ``lr_at_edge`` and
    the sweep (each fit's lr, updates, converged, stalled, loss, exact, information)."""
    budget = get_kind(arm.memory).parameters(code.dim, 0)
    count = max(1, round(option(arm, "sweep_load") * budget / code.entropy))
    generator = generator_for(settings.seed, arm.name, code.dim, code.coding, "sweep")
    patterns = code.draw(count, generator)
    cues = sparse_cue(patterns, settings.removed, settings.added, generator)
    seed = int(torch.randint(2**31 - 1, (1,), generator=generator))

    def train(lrs: list[float]) -> list[dict]:
        items = [Completion(arm, code, patterns, cues, settings, lr, seed) for lr in lrs]
        return [sweep_score(code, patterns, cues, fitted) for fitted in map_fits(run_completion, items)]

    def best(sweep: list[dict]) -> int:
        return min(range(len(sweep)), key=lambda i: sweep_rank(sweep[i]))

    sweep, index, edge = extended_sweep(list(arm.lrs), train, best, lambda fit: fit["lr"])
    return {
        "lr": sweep[index]["lr"],
        **edge,
        "sweep_patterns": count,
        "sweep": sorted(sweep, key=lambda fit: fit["lr"]),
    }


def training_summary(points: list[dict], choice: dict) -> dict:
    """A backprop arm's fits at one coding level: the lr chosen by the sweep (and the sweep), every fit of the grid
    (``grid``: per P, each trial's updates, plateau flag and final loss), the updates they took (median, largest,
    and ``updates_total`` with the sweep's), how many stopped on the cap rather than on their plateau or stalled
    (``fits_not_converged``), how many stalled (``fits_stalled``: flat at their first epoch's loss),
    ``converged`` (every fit of the grid and the chosen fit of the sweep on its plateau) and ``status``:
    "converged" or "not converged" (then its numbers are no result about backprop)."""
    updates = sorted(u for p in points for u in p["fit"]["updates"])
    flags = [c for p in points for c in p["fit"]["converged"]]
    chosen = next(fit for fit in choice["sweep"] if fit["lr"] == choice["lr"])
    converged = all(flags) and chosen["converged"]
    return {
        **choice,
        "grid": [{"patterns": p["patterns"], **p["fit"]} for p in points],
        "fits": len(flags),
        "fits_not_converged": sum(not c for c in flags),
        "fits_stalled": sum(s for p in points for s in p["fit"]["stalled"]),
        "updates_median": statistics.median(updates),
        "updates_max": updates[-1],
        "updates_total": sum(updates) + sum(fit["updates"] for fit in choice["sweep"]),
        "converged": converged,
        "status": "converged" if converged else "not converged",
    }


def summarise(arm: Arm, code: Code, points: list[dict], generator: torch.Generator, choice: dict | None = None) -> dict:
    """P₀.₉ with its interval (and in bits per synapse, P·S/M), and the best information per synapse with its (a
    backprop arm: also ``training``, :func:`training_summary` of the sweep's ``choice``)."""
    budget = get_kind(arm.memory).parameters(code.dim, 0)
    counts = [p["patterns"] for p in points]
    per_trial = [p["exact_trials"] for p in points]
    value = crossing(counts, [p["exact"] for p in points], LEVEL)
    low, high = bootstrap_crossing(counts, per_trial, LEVEL, BOOTSTRAP_SAMPLES, generator)
    scale = code.entropy / budget

    def rounded(x, factor=1.0):
        return None if x is None else round(x * factor, 6)

    capacity = {"level": LEVEL, "P_c": rounded(value), "P_c_low": rounded(low), "P_c_high": rounded(high)}
    capacity.update(bits=rounded(value, scale), bits_low=rounded(low, scale), bits_high=rounded(high, scale))
    if value is None:  # every null estimate says which side of the grid it lies beyond, at the edge in its own units
        edge = 0 if points[0]["exact"] < LEVEL else -1
        side = "below_grid" if edge == 0 else "above_grid"
        for key in ("P_c", "P_c_low", "P_c_high", "bits", "bits_low", "bits_high"):
            if capacity[key] is None:
                load = float(counts[edge]) if key.startswith("P_c") else rounded(counts[edge], scale)
                capacity[f"{key}_outside"] = {"side": side, "load": load, "fraction": points[edge]["exact"]}
    information = bootstrap_best(counts, [p["information_trials"] for p in points], BOOTSTRAP_SAMPLES, generator)
    result = {
        "coding": code.coding,
        "D": code.dim,
        "M": budget,
        "entropy": round(code.entropy, 6),
        "hypercolumns": code.modules,
        "exact": capacity,
        "information": information,
    }
    if choice is not None:
        result["training"] = training_summary(points, choice)
    return result


# holographic memory -----------------------------------------------------------------------------------------------
def holographic_accuracy(dim: int, pairs: int, items: int, generator: torch.Generator) -> float:
    """The fraction of ``pairs`` probes whose unbinding and clean-up return the right item: N = ``items`` random
    vectors N(0, 1/D), K pairs of distinct items (a_k, b_k) in one trace, probe a_k, target b_k."""
    vectors = torch.randn(items, dim, generator=generator, dtype=torch.float64) / math.sqrt(dim)
    chosen = torch.randperm(items, generator=generator)[: 2 * pairs]
    first, second = chosen[:pairs], chosen[pairs:]
    rule = get_rule("holographic")
    trace = rule.fit(torch.cat([vectors[first], vectors[second]], dim=1))
    memory = build("holographic", trace, dim, {"items": vectors})
    return float((memory.recall_index(vectors[first]) == second).double().mean())


def holographic_law(settings: Settings) -> dict:
    """K₀.₉ per D with its interval, and the slope of log K₀.₉ against log D with its interval (the trials resampled
    at every D); 1 is Plate's linear law."""
    law = settings.holographic
    generator = generator_for(settings.seed, "holographic", "bootstrap")
    dims: dict = {}
    samples: list[list[float | None]] = []
    for dim in law.dims:
        counts = sorted({max(1, round(load * dim)) for load in law.loads if 2 * round(load * dim) <= law.items})
        per_trial = [
            [
                holographic_accuracy(dim, count, law.items, generator_for(settings.seed, "holographic", dim, count, t))
                for t in range(law.trials)
            ]
            for count in counts
        ]
        value = crossing(counts, [sum(t) / len(t) for t in per_trial], LEVEL)
        low, high = bootstrap_crossing(counts, per_trial, LEVEL, BOOTSTRAP_SAMPLES, generator)
        table = torch.tensor(per_trial, dtype=torch.float64)
        picks = torch.randint(law.trials, (BOOTSTRAP_SAMPLES, law.trials), generator=generator)
        samples.append([crossing(counts, table[:, p].mean(1).tolist(), LEVEL) for p in picks])
        dims[f"D{dim}"] = {
            "D": dim,
            "K_c": None if value is None else round(value, 4),
            "K_c_low": None if low is None else round(low, 4),
            "K_c_high": None if high is None else round(high, 4),
            "K_per_D": None if value is None else round(value / dim, 6),
            "accuracy": [
                {"K": c, "accuracy": round(sum(t) / len(t), 6)} for c, t in zip(counts, per_trial, strict=True)
            ],
        }
    measured = [e for e in dims.values() if e["K_c"] is not None]
    slope = loglog_slope([e["D"] for e in measured], [e["K_c"] for e in measured]) if len(measured) >= 2 else None
    slopes = []
    for draw in zip(*samples, strict=True):
        if all(v is not None for v in draw):
            slopes.append(loglog_slope(law.dims, list(draw)))
    interval = (
        torch.tensor(slopes, dtype=torch.float64).quantile(torch.tensor([0.025, 0.975], dtype=torch.float64)).tolist()
        if slopes
        else [None, None]
    )
    return {
        "items": law.items,
        "level": LEVEL,
        "dims": dims,
        "slope": None if slope is None else round(slope, 4),
        "slope_low": None if interval[0] is None else round(interval[0], 4),
        "slope_high": None if interval[1] is None else round(interval[1], 4),
    }


# the stage --------------------------------------------------------------------------------------------------------
def run(settings: Settings) -> tuple[dict, list[dict]]:
    """Every arm at every coding level: (record arms, curve points)."""
    arms: dict = {}
    curves: list[dict] = []
    for arm in settings.arms:
        entry: dict[str, Any] = {"memory": arm.memory, "rule": arm.rule, "locality": arm.locality, "sweeps": arm.sweeps}
        if arm.rule == BACKPROP:
            entry["options"] = {**BACKPROP_DEFAULTS, **arm.options, "lrs": arm.lrs}
        entry["codings"] = {}
        for coding in settings.codings:
            start = time.perf_counter()
            code = code_for(arm.memory, settings.dim, coding)
            choice = choose_lr(arm, code, settings) if arm.rule == BACKPROP else None
            points = measure_curve(arm, code, settings, None if choice is None else choice["lr"])
            curves.extend({k: v for k, v in p.items() if not k.endswith("_trials") and k != "fit"} for p in points)
            generator = generator_for(settings.seed, arm.name, coding, "bootstrap")
            result = summarise(arm, code, points, generator, choice)
            entry["codings"][coding_key(coding)] = result
            say(
                f"sparse {arm.name} f={coding:g} D={code.dim}: P0.9 {result['exact']['P_c']} "
                f"[{result['exact']['P_c_low']}, {result['exact']['P_c_high']}], "
                f"{result['information']['value']} bits/synapse at P = {result['information']['at']} "
                f"{training_note(result)}({time.perf_counter() - start:.1f} s)"
            )
        arms[arm.name] = entry
    return arms, curves


def training_note(result: dict) -> str:
    """The log's words on a backprop arm's fits: lr chosen, updates, plateau reached or not ("" for the others)."""
    if "training" not in result:
        return ""
    fit = result["training"]
    return (
        f"[backprop lr {fit['lr']}, {fit['updates_median']} updates (max {fit['updates_max']}), {fit['status']}, "
        f"{fit['fits_not_converged'] - fit['fits_stalled']} of {fit['fits']} at the cap, "
        f"{fit['fits_stalled']} stalled, {fit['updates_total']} updates in all] "
    )


def compute(settings: Settings, params: Params, tracker) -> dict[str, object]:
    """The record (arms, holographic law, bounds) and the recall curves against P."""
    with single_cpu_thread(settings.device):  # small matrices: one thread is faster on shared cores
        arms, curves = run(settings)
        start = time.perf_counter()
        holographic = holographic_law(settings)
    say(f"sparse holographic: slope {holographic['slope']} ({time.perf_counter() - start:.1f} s)")
    record = {
        "dim": settings.dim,
        "trials": settings.trials,
        "removed": settings.removed,
        "added": settings.added,
        "level": LEVEL,
        "codings": settings.codings,
        "bounds": {name: round(value, 6) for name, value in BOUNDS.items()},
        "arms": arms,
        "holographic": holographic,
    }
    return {"sparse.json": record, "sparse_curves.json": curves}


def main(args) -> None:
    """``hebbdam sparse``: sparse codes and holographic memory (params ``sparse``) → sparse.json and its curves."""
    run_stage(
        args,
        "sparse",
        parse_settings,
        compute,
        headline=lambda record: select(
            record, "arms.*.codings.*.information.value", "arms.*.codings.*.exact.P_c", "holographic.slope"
        ),
        curves=(Curves("sparse_curves.json", x="patterns", y=("exact", "information"), series=("arm", "coding")),),
    )
