"""E8a: how many random patterns each learning rule fits into a fixed budget of M parameters.

Random ±1 patterns Ξ (P, D). Each arm is a memory with a parameter budget M and a way to fill it:
- ``hopfield``: W (D, D), M = D², written by a pairwise rule (hebb, storkey, pseudo_inverse, delta) or trained by
  backprop (denoising through unrolled recall, ``lit.backprop.fit_denoising``);
- ``random_features``: the random-feature memory (DrDAM) with Y frequencies, M = 2Y (the tensor T; Ω is a fixed random
  draw regenerated from a seed, not a learned parameter), written by the Hebbian feature sum (rule
  ``random_features``) or the same Ω with T trained by backprop;
- ``quadruplets``: the 4th-order (neuron–astrocyte) memory on M random index quadruplets, M couplings;
- ``simplicial``: the simplicial Hopfield network (Burns & Fukai 2023), M Hebbian couplings on random simplices of
  the mixed sizes ``hyper.orders`` in proportions ``hyper.shares`` (M = D(D-1)/2 is the pairwise net's count of
  distinct connections; all of them as edges is the Hebb net);
- ``dense``: a DAM with K hidden units Ξ (K, D), M = K·D, filled by ``slot`` (the one-shot DAM: of the P patterns
  presented it keeps the first K), ``prototype`` (online winner-take-all means), the K&H 2019 competing-units rule
  (``krotov_hopfield``; the p-norms of its units, 1 at its fixed point, are recorded per fit: ``unit_norm`` holds
  the mean and largest gap |‖W_μ‖_p − 1| over the units that win a stored pattern, the units that win none (they
  keep their random start whatever the rule's length) and ``converged``, every fit's mean gap over its winners
  within ``NORM_TOLERANCE``), ``pseudo_inverse_slots`` (the first K patterns as slots, read through their Gram inverse:
  keys D·(ΞΞᵀ)⁺Ξ, values the slots, :class:`hebbdam.memory.KeyedDenseAM`; M = K·D + min(K·D, K²), so K is the most
  slots whose M fits the budget K₀·D of the other dense arms, ``Arm.budgets``: the entry holds its own ``M``, for
  bits per parameter, and the ``budget_M`` it competes at, on that budget's grid of P) or backprop.
Local/nonlocal is the rule's own label; backprop is nonlocal.

Criterion: every one of the P patterns is presented to the rule and the memory is scored on all P (a pattern a
memory dropped counts as not recalled). A pattern is recalled when synchronous relaxation from it with
``flip_fraction``·D flipped bits ends on it exactly. Per arm, D and budget the record holds
- P at each recall level of ``levels`` (default 0.9 and 0.99): the P at which the fraction recalled falls below the
  level, interpolated on the grid of P, with a 95% interval that resamples the trials (null + ``P_c_outside`` when
  the crossing lies outside the scanned grid);
- ``half``: the same at level ½ (P½), a secondary column only: a memory that keeps K patterns and forgets the rest
  recalls K/P, so its P½ is 2K — forgetting doubles its "capacity" (the artifact this criterion replaces);
- ``recalled``: the largest number of patterns actually recalled, max_P P·f(P);
- ``information``: bits restored per parameter, max_P I/M with I = P·D·(H₂(ρ) − H₂(ε))⁺/H₂(ρ), ε the bit-error rate
  of the recalled states and ρ the cues' (P·D·(1 − H₂(ε)) at ε = 0; a memory that returns mixtures is credited with
  what it returns, one that returns its cue unchanged with nothing), and the P of that maximum;
- ``keep_K`` (dense arms): what the trivial memory that keeps K patterns, f = min(1, K/P), scores on the same grid;
- ``training`` (backprop arms): see below.
``fixed_point`` is the same with ρ = 0 (every neuron of the pattern strictly aligned with its field): the criterion
of Gardner's bound (2 bits per synapse, zero margin), so P·D/M is compared with Gardner's 2 on fixed points only.

Backprop is memorisation here: the stored set is the test set. It is trained on the denoising loss until the loss
is flat (``lit.backprop.Plateau`` per update: ``window`` updates, relative ``tolerance``, or within ``noise`` standard
errors of the minibatch scatter, ``confirm`` readings in a row), or at most ``floor`` (the
stored set is denoised: the loss only sharpens the tanh from there), or a cap of ``updates``. The
denoising loss through unrolled recall is not the recall criterion, so every fit is scored on the criterion (exact
recall of the stored set from the trial's probes) together with its own start, and the trained memory is kept only
where it beats the start (``kept``: "trained" or "start"). On the grid the written start is a candidate whatever
start the sweep chose: where it already recalls every stored pattern it is kept untrained (no fit can beat it), and
a fit from the random start that does not beat it gives way to it (``kept`` "written").

At each budget one stored set of P = ``sweep_load``·M/D patterns sweeps the learning rates ``lrs`` and the starts
``inits`` (``written``: the slots, i.e. the first K patterns, for a dense memory, the Hebb write for W, the Hebbian
feature sum for T; ``random``, at the one lr ``random_lr`` where it is set) and the best converged fit on the criterion
is chosen (a fit at its cap only where none converged; ties: the lower training loss); a chosen lr at the edge of the
sweep extends it by the sweep's ratio, at most ``EXTENSIONS`` times (``lrs_tried``; ``lr_at_edge`` when it still sits on
an edge). A sweep in which two or more fits recall every stored pattern cannot rank their lrs; it moves to the next load
of the grid (``sweep_loads_solved``, ``sweep_load``), and one whose best score is a kept start (no lr beat the written
start) to the load below (``sweep_loads_unmoved``). The dense arms sweep at P = 1.25K, just past what their slots hold
(keep-K recalls 0.8 there), where the criterion separates the lrs; far past it (1.5K at K = 256: every lr recalls under
half) the most exact recall went to an lr that crawled at the level's P. Every trial of the grid uses that choice. The
record stores the updates used, the lr and init chosen, ``converged`` (every fit stopped on the plateau, not on the cap,
and none ``stalled``: flat at its first reading's loss, the optimiser never moved it; ``fits_stalled`` counts them) and
how many fits kept their start.

The grid of P is given in bits per parameter, P = b·M/D, so one grid serves every budget; the scan stops after
``STOP_AFTER`` consecutive points below every level, then the bracket of each level's crossing is bisected
``refinements`` times. The loads and the bisections are the same for every arm of a memory kind at a budget, so two
memories with the same recall curve (two that keep K patterns) get the same P at every level.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass

import torch

from ..config import Params
from ..data.synthetic import flip_bits, rademacher
from ..dynamics import relax
from ..errors import DivergedError
from ..lit import store
from ..lit.backprop import Denoisable, FeatureMap, MemoryMatrix, PairwiseWeights, Plateau, fit_denoising
from ..logs import say
from ..memory import BinaryMemory, KeyedDenseAM, Memory, get_kind
from ..memory.random_features import feature_frequencies
from ..metrics import (
    binarise,
    binary_entropy,
    bit_error_fraction,
    bootstrap_best,
    bootstrap_crossing,
    crossing,
    exact_recall,
    grid_side,
)
from ..parallel import map_fits
from ..rules import Rule, get_rule
from ..settings import budget_patterns as schema
from ..settings.budget_patterns import BACKPROP, Arm, Settings, rule_hyper
from ..settings.catalogue import has_normed_units, holds_rows, is_keyed, is_pairwise
from .common import (
    Curves,
    built,
    compute_device,
    generator_for,
    run_stage,
    select,
    separation_at,
)

CRITERIA = ("exact", "fixed_point")
HALF = 0.5  # the secondary level of P½ (rewards forgetting: a keep-K memory scores 2K)
STOP_AFTER = 2  # consecutive grid points with both fractions below every level end the scan
EXTENSIONS = 2  # steps an lr sweep is extended past its edge when the lr chosen sits on it
BOOTSTRAP_SAMPLES = 200
DEFAULT_UPDATES = 300  # the cap of gradient updates of a backprop arm without ``options.updates``
DEFAULT_WINDOW, DEFAULT_TOLERANCE = 50, 0.01  # the plateau: window means within 1% of each other over 50 updates
NORM_TOLERANCE = 0.05  # K&H 2019 at its fixed point: every fit's mean |‖W_μ‖_p − 1| over its winning units at most this
UNIT_NORM_KEYS = ("unit_norm", "gap_mean", "gap_max", "gap_all", "never_won")  # per K&H fit (:func:`unit_norms`)
DEFAULT_NOISE = 0.0  # the plateau's noise test off: window means within ``noise`` standard errors also count as flat
DEFAULT_FLOOR = 1e-3  # a denoising MSE per bit of 1e-3 (every recalled bit within ~0.03 of ±1) solves the stored set


def parse_settings(params: Params, section_name: str = "budget.patterns") -> Settings:
    """The settings of :mod:`hebbdam.settings.budget_patterns`, checked whole before any work, with their rules and
    separations built and this machine's device."""
    return built(schema.parse_settings(params, section_name, device=compute_device(params)))


def level_key(level: float) -> str:
    """The record key of a recall level, without a dot (dotted key paths stay unambiguous): 0.9 → "L0_9"."""
    return "L" + f"{level:g}".replace(".", "_")


def rule_for(arm: Arm, dim: int, size: int, seed: int) -> Rule:
    """The registry rule of a non-backprop arm at dimension D and budget size (:func:`rule_hyper`)."""
    return get_rule(arm.rule, **rule_hyper(arm, dim, size, seed))


@dataclass(frozen=True)
class Trial:
    """One stored set of P patterns: its patterns, the probes (ρD flipped bits) and the seed of its filling."""

    patterns: torch.Tensor
    probes: torch.Tensor
    seed: int


def draw_trial(arm: Arm, dim: int, size: int, count: int, trial: int, settings: Settings) -> Trial:
    generator = generator_for(settings.seed, arm.name, dim, size, count, trial)
    seed = int(torch.randint(2**31 - 1, (1,), generator=generator))
    patterns = rademacher(count, dim, generator)
    return Trial(patterns, flip_bits(patterns, settings.flip_fraction, generator), seed)


# filling a memory -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Filled:
    """A filled memory and what its filling reports: for a backprop fit ``lr``, ``init``, ``updates``,
    ``converged``, ``stalled``, ``loss``; for ``krotov_hopfield`` ``unit_norm`` (the mean p-norm of its units, 1 at
    its fixed point)."""

    memory: Memory
    info: dict


DIVERGED_LOSS = 1e30  # the training loss a diverged fit is ranked by (finite: records hold no inf)


def build_memory(
    arm: Arm,
    trial: Trial,
    size: int,
    settings: Settings,
    lr: float | None = None,
    init: str | None = None,
    skip_solved: bool = False,
) -> Filled:
    """Fill the arm's memory with the trial's patterns (P, D), every one presented: a registry rule through
    ``lit.store`` (no autograd; a K-slot rule keeps the first K) or backprop from ``init`` at ``lr`` (default: the
    arm's first), kept only where it beats its own start on the recall criterion (:func:`keep_better`).

    With ``skip_solved`` (the grid of :func:`measure_point`) the arm's written start (the slots, the Hebb write; where
    ``written`` is one of its ``inits``) is a candidate too, whatever start the sweep chose: one that already recalls
    every stored pattern exactly (bit-error rate 0: no fit can beat it on the criterion) is kept untrained
    (``solved_start``, 0 updates, converged: nothing is left to learn), and a fit from the random start that does
    not beat it gives way to it (``kept`` "written"): backprop from the slots and at random, the better kept, without
    a second fit. At D = 32, K = 8, P = K/2 a random start of the exponential DAM recalled 1, ½ and 1
    of the 3 trials' sets where the slots recall all."""
    patterns, seed = trial.patterns, trial.seed
    dim = patterns.shape[1]
    separation = separation_at(arm.separation, dim)
    if arm.rule != BACKPROP:
        rule = rule_for(arm, dim, size, seed)
        written = patterns[:size] if rule.target == "slots" else patterns  # a K-slot DAM keeps the first K
        epochs, batch = int(arm.options.get("epochs", 1)), int(arm.options.get("batch_size", 1024))
        module = store(written, rule, settings.trainer, batch_size=batch, seed=seed, max_epochs=epochs, logger=False)
        if is_keyed(arm.rule):  # the keys read, the slots themselves write
            assert separation is not None  # a dense arm (Arm.checked)
            return Filled(KeyedDenseAM(module.stored.detach(), written, separation), {})
        info = {}
        if has_normed_units(arm.rule):
            info = unit_norms(module.stored, float(rule.hyper["p"]), written)
        return Filled(module.memory(separation, kind=arm.memory), info)
    lr = arm.lrs[0] if lr is None else lr
    init = arm.inits[0] if init is None else init
    parameters = trainable(arm, patterns, size, seed, init)
    start = parameters.export()  # a copy: the fit trains ``parameters`` in place
    written_start: Memory | None = None  # the grid's other candidate
    if skip_solved and "written" in arm.inits:
        written_start = start if init == "written" else trainable(arm, patterns, size, seed, "written").export()
    if written_start is not None and score(written_start, trial, settings)["exact"] == 1.0:
        return Filled(written_start, {"lr": lr, "init": init, "updates": 0, "converged": True, "stalled": False,
                                      "loss": 0.0, "kept": "written", "solved_start": True})  # fmt: skip
    try:
        fitted = fit_denoising(
            parameters,
            patterns,
            flip=settings.flip_fraction,
            steps=int(arm.options.get("steps", 3)),
            lr=lr,
            updates=int(arm.options.get("updates", DEFAULT_UPDATES)),
            batch_size=int(arm.options.get("batch_size", 64)),
            seed=seed,
            trainer_options=settings.trainer,
            logger=False,  # hundreds of small fits: the stage logs its curves, not each fit's steps
            plateau=Plateau(
                int(arm.options.get("window", DEFAULT_WINDOW)),
                arm.options.get("tolerance", DEFAULT_TOLERANCE),
                floor=arm.options.get("floor", DEFAULT_FLOOR),
                noise=arm.options.get("noise", DEFAULT_NOISE),
                confirm=int(arm.options.get("confirm", 1)),
            ),
        )
    except DivergedError:  # a diverged fit is a failed candidate of the sweep: its start is kept, flagged
        memory: Memory = start
        kept = "start"
        if written_start is not None and written_start is not start:
            memory, kept = keep_better(start, written_start, trial, settings, (kept, "written"))
        return Filled(memory, {"lr": lr, "init": init, "updates": 0, "converged": False, "stalled": False,
                               "loss": DIVERGED_LOSS, "kept": kept, "diverged": True})  # fmt: skip
    trained: Memory = fitted.memory.export()
    memory, kept = keep_better(trained, start, trial, settings)
    if written_start is not None and written_start is not start:  # the grid: the written start is a candidate too
        memory, kept = keep_better(memory, written_start, trial, settings, (kept, "written"))
    return Filled(memory, {"lr": lr, "init": init, **solved_reading(fitted.fit_summary, start, trial, settings),
                           "kept": kept})  # fmt: skip


def solved_reading(summary: dict, start: Memory, trial: Trial, settings: Settings) -> dict:
    """A fit's summary, with a stalled fit (``lit.backprop.Plateau``: flat at its first window's loss) read as
    converged where its start already recalls every stored pattern exactly: nothing is left to learn on the
    criterion (the sweep trains such starts; the grid keeps them untrained, :func:`build_memory`'s ``skip_solved``).
    A stalled fit from any other start stays stalled and not converged."""
    if summary["stalled"] and score(start, trial, settings)["exact"] == 1.0:
        return {**summary, "stalled": False, "converged": True}
    return summary


def unit_norms(units: torch.Tensor, power: float, patterns: torch.Tensor) -> dict[str, float]:
    """The K&H 2019 units (K, D) against the rule's fixed point ‖W_μ‖_p = 1, over the units that win at least one of
    the P stored patterns (P, D) at the end (the largest current ⟨W_μ, ξ⟩_p, the rule's own ranking): their mean and
    largest gap |‖W_μ‖_p − 1|. A unit that wins nothing gets no Hebbian step, so it keeps its random start and its
    norm (‖W_μ‖₃ ≈ 3.7 at std 1, D = 32) however long the rule runs: it is counted (``never_won``), not gated, and
    ``gap_all`` is the mean gap over all K. Also the mean p-norm of all K (``unit_norm``)."""
    norms = units.abs().pow(power).sum(1).pow(1 / power)
    gaps = (norms - 1).abs()
    currents = patterns @ (units.sign() * units.abs().pow(power - 1)).T  # (P, K)
    won = torch.zeros(units.shape[0], dtype=torch.bool)
    won[currents.argmax(1)] = True
    return {
        "unit_norm": float(norms.mean()),
        "gap_mean": float(gaps[won].mean()),
        "gap_max": float(gaps[won].max()),
        "gap_all": float(gaps.mean()),
        "never_won": int((~won).sum()),
    }


def keep_better(
    trained: Memory, start: Memory, trial: Trial, settings: Settings, names: tuple[str, str] = ("trained", "start")
) -> tuple[Memory, str]:
    """The trained memory, or its start where the start scores better on the recall criterion of :func:`score`
    (more of the stored patterns recalled exactly from the trial's probes; at a tie, the lower bit-error rate; at a
    full tie the trained one). Memorisation: the stored set is the test set, so this uses the very probes the memory
    is scored on — it asks only whether training improved the memory on the criterion it is judged by (the
    denoising loss through unrolled recall is not that criterion). Returns the memory and its name of ``names``."""
    ranks = [score(memory, trial, settings) for memory in (trained, start)]
    trained_rank, start_rank = ((r["exact"], -r["bit_error"]) for r in ranks)
    return (start, names[1]) if start_rank > trained_rank else (trained, names[0])


def trainable(arm: Arm, patterns: torch.Tensor, size: int, seed: int, init: str) -> Denoisable:
    """The parameters a backprop arm trains, started ``written`` (W: the Hebb write ΞᵀΞ/D; Ξ: the first K patterns
    in the K slots, the rest of the slots random; T: the Hebbian feature sum) or ``random`` (small Gaussian W or Ξ)."""
    count, dim = patterns.shape
    if is_pairwise(arm.memory):
        weights = PairwiseWeights(dim, init_std=0.01, seed=seed)
        if init == "written":
            with torch.no_grad():
                weights.raw.copy_(patterns.T @ patterns / dim)  # the diagonal is zeroed by ``weights()``
        return weights
    if get_kind(arm.memory).features:
        beta = float(arm.options.get("beta", 1.0)) / dim
        omega = feature_frequencies(dim, 2 * size, beta, seed)
        features = FeatureMap(dim, 2 * size, beta, omega=omega, train_frequencies=False)
        features.write(patterns)  # backprop trains T only, from the Hebbian write
        return features
    assert arm.separation is not None  # a dense arm: quadruplet memories take no backprop (Arm.checked)
    memory = MemoryMatrix(size, dim, separation_at(arm.separation, dim), init_std=0.1, seed=seed)
    if init == "written":
        with torch.no_grad():
            memory.memories[: min(size, count)] = patterns[:size]
    return memory


def stable(memory: Memory, patterns: torch.Tensor) -> torch.Tensor:
    """(P,) bool: every neuron strictly aligned with its field, ξ_i h_i > 0 (Gardner's zero-margin criterion: a zero
    field, e.g. W = 0, does not count); a continuous memory: one step read out by sign leaves the pattern."""
    if isinstance(memory, BinaryMemory):
        return (patterns * memory.field(patterns) > 0).all(dim=1)
    return (binarise(memory.step(patterns)) == patterns).all(dim=1)


def score(memory: Memory, trial: Trial, settings: Settings) -> dict[str, float]:
    """The fraction of all P patterns recalled exactly from their probes, the bit-error rate ε of the recalled
    states and the fraction that are fixed points."""
    memory = memory.to(settings.device)
    patterns, probes = trial.patterns.to(settings.device), trial.probes.to(settings.device)
    final = binarise(relax(memory, probes, mode="sync", max_sweeps=settings.max_sweeps).states)
    with torch.no_grad():
        fixed = stable(memory, patterns)
    return {
        "exact": float(exact_recall(final, patterns).double().mean()),
        "bit_error": float(bit_error_fraction(final, patterns).double().mean()),
        "fixed_point": float(fixed.double().mean()),
    }


def fit_rank(fit: dict) -> tuple[bool, float, float, float]:
    """The order of the sweep (smaller is better): a fit that reached its plateau before one that did not (stopped at
    the cap, stalled or diverged: its score is no result about its lr, and the grid would repeat its failure at every
    trial; at D = 64, K = 256, P = 1.25K the lr 0.0033 at the cap recalled 3 of 320 more than 0.01 at its plateau),
    then more stored patterns recalled exactly, the lower bit-error rate, the lower training loss."""
    return (not fit["converged"], *criterion_rank(fit), fit["loss"])


def criterion_rank(fit: dict) -> tuple[float, float]:
    """A sweep fit's score on the recall criterion alone (smaller is better): more exact recall, then the lower
    bit-error rate."""
    return (-fit["exact"], fit["bit_error"])


def extended(tried: list[float], best: float, factors: tuple[float, float]) -> float | None:
    """The next lr past the edge of the sweep ``tried`` (ascending) where ``best`` sits on it: the smallest divided
    by ``factors[0]`` or the largest times ``factors[1]`` (the sweep's own ratios); None inside the sweep."""
    if best == tried[0]:
        return float(f"{tried[0] / factors[0]:.6g}")
    if best == tried[-1]:
        return float(f"{tried[-1] * factors[1]:.6g}")
    return None


def choose_fit(arm: Arm, dim: int, size: int, settings: Settings) -> dict:
    """The lr and init of a backprop arm at one budget: on one stored set of P = ``sweep_load``·M/D patterns (trial 0),
    every lr of ``lrs`` from every start of ``inits`` (the random one only at ``random_lr`` where set) is trained to its
    plateau (kept only where it beats its start, :func:`keep_better`) and the best converged fit on the recall criterion
    is chosen (:func:`fit_rank`; memorisation: the stored set is the set it is measured on). When the chosen lr is the
    smallest or the largest tried, the sweep is extended one step (the sweep's ratio) in that direction, at most
    ``EXTENSIONS`` times. A sweep in which two or more fits recall every stored pattern cannot rank those lrs (they tie
    on the criterion and differ only by a loss near the floor; at D = 64, K = 16 the slots solve P = K in 50 updates at
    every lr, and at K = 256 every lr from the slots solves P = K while the random start does not: either tie went to
    the smallest lr, which then crawled to the cap at P > K): it is repeated at the next load of the arm's grid, until
    at most one fit solves the set or the grid ends (``sweep_loads_solved``). A sweep whose best score on the criterion
    is a kept start ranks nothing either (no fit beat the written start, so the lrs tie on it: at D = 32, K = 128, P =
    1.25K lies far past the slots' crosstalk limit, and the tie went to a discarded fit's loss, lr 0.01: P0.9 80.6
    against 87.3 at lr 0.0033): it is repeated at the load below, until a trained fit scores best or the grid ends
    (``sweep_loads_unmoved``); a sweep that has moved one way never turns back. Returns the choice, the lrs tried,
    ``lr_at_edge`` (the chosen lr still the smallest or largest tried), the load and P of the sweep and the sweep (each
    fit's lr, init, kept, updates, converged, loss, exact, bit_error)."""
    load = float(arm.options.get("sweep_load", 1.0))
    solved: list[float] = []  # loads left upwards: two or more fits recalled every stored pattern
    unmoved: list[float] = []  # loads left downwards: no fit beat its start
    while True:
        count, lrs, sweep = sweep_lrs(arm, dim, size, settings, load)
        following = [b for b in sorted(arm.loads or ()) if b > load]
        preceding = [b for b in sorted(arm.loads or ()) if b < load]
        if following and not unmoved and sum(fit["exact"] == 1.0 for fit in sweep) >= 2:
            solved.append(load)
            load = following[0]
        elif preceding and not solved and min(sweep, key=criterion_rank)["kept"] == "start":
            unmoved.append(load)
            load = preceding[-1]
        else:
            break
    best = min(sweep, key=fit_rank)
    return {
        "lr": best["lr"],
        "init": best["init"],
        "kept": best["kept"],
        "converged": best["converged"],
        "stalled": best["stalled"],
        "lrs_tried": lrs,
        "lr_at_edge": len(lrs) == 1 or best["lr"] in (lrs[0], lrs[-1]),
        "sweep_load": load,
        "sweep_loads_solved": solved,
        "sweep_loads_unmoved": unmoved,
        "sweep_patterns": count,
        "sweep": sweep,
    }


def sweep_lrs(arm: Arm, dim: int, size: int, settings: Settings, load: float) -> tuple[int, list[float], list[dict]]:
    """The lr × init sweep of :func:`choose_fit` on trial 0's stored set of P = ``load``·M/D patterns, extended past
    an edge the best lr sits on: (P, the lrs tried ascending, every fit's info and score)."""
    count = max(1, round(load * arm.budget(dim, size) / dim))
    trial = draw_trial(arm, dim, size, count, 0, settings)
    lrs = sorted(arm.lrs)
    factors = (lrs[1] / lrs[0], lrs[-1] / lrs[-2]) if len(lrs) > 1 else None
    sweep: list[dict] = []

    def fit(lr: float) -> None:
        for init in arm.inits_at(lr):
            filled = build_memory(arm, trial, size, settings, lr, init)
            scored = score(filled.memory, trial, settings)
            sweep.append({**filled.info, "loss": round(filled.info["loss"], 6), **_criterion(scored)})

    for lr in lrs:
        fit(lr)
    for _ in range(EXTENSIONS if factors else 0):
        following = extended(lrs, min(sweep, key=fit_rank)["lr"], factors) if factors else None
        if following is None:
            break
        fit(following)
        lrs = sorted({*lrs, following})
    return count, lrs, sweep


def _criterion(scored: dict) -> dict:
    return {"exact": round(scored["exact"], 6), "bit_error": round(scored["bit_error"], 6)}


def measure_point(arm: Arm, dim: int, size: int, count: int, settings: Settings, choice: dict | None = None) -> dict:
    """Every trial at one P: the mean fractions and the per-trial ones (for the bootstrap), and what the fits
    report (backprop, at the ``choice`` of :func:`choose_fit`: updates, converged; krotov_hopfield: the units'
    p-norm)."""
    budget = arm.parameters(dim, size)
    trials = [draw_trial(arm, dim, size, count, t, settings) for t in range(settings.trials)]
    lr, init = (choice["lr"], choice["init"]) if choice else (None, None)
    filled = [build_memory(arm, t, size, settings, lr, init, skip_solved=True) for t in trials]
    scores = [score(f.memory, t, settings) for f, t in zip(filled, trials, strict=True)]
    point = {"arm": arm.name, "D": dim, "size": size, "M": budget, "patterns": count, "load": count * dim / budget}
    for key in (*CRITERIA, "bit_error"):
        values = [s[key] for s in scores]
        point[key] = round(sum(values) / len(values), 6)
        point[f"{key}_trials"] = [round(v, 6) for v in values]
    cue_error = round(settings.flip_fraction * dim) / dim  # flip_bits flips exactly this many bits of every cue
    information = [information_per_parameter(count, dim, budget, s["bit_error"], cue_error) for s in scores]
    point["information"] = round(sum(information) / len(information), 6)
    point["information_trials"] = [round(v, 6) for v in information]
    if arm.rule == BACKPROP:
        infos = [f.info for f in filled]
        point["fit"] = {
            "updates": [i["updates"] for i in infos],
            "converged": [i["converged"] for i in infos],
            "stalled": [i["stalled"] for i in infos],
            "loss": round(max(i["loss"] for i in infos), 6),
            "kept": [i["kept"] for i in infos],
            "solved_start": [bool(i.get("solved_start")) for i in infos],
        }
    elif has_normed_units(arm.rule):
        point["unit_norm"] = {key: [round(f.info[key], 6) for f in filled] for key in UNIT_NORM_KEYS}
    return point


def information_per_parameter(count: int, dim: int, budget: int, error: float, cue_error: float = 0.0) -> float:
    """I/M: the bits the memory restores about the P stored patterns, per parameter.

    I = P·D·(H₂(ρ) − H₂(ε))⁺ / H₂(ρ) for cues with a bit-error rate ρ = ``cue_error`` and recalled states with ε:
    the share of the cue's missing information the memory gives back, in units where perfect recall (ε = 0) of P
    patterns is P·D bits, as in I = P·D·(1 − H₂(ε)), which it equals at ε = 0. Without that baseline a memory that
    returns its cue unchanged (ε = ρ: the identity, which a pseudo-inverse becomes at P ≥ D) would be credited with
    P·D·(1 − H₂(ρ)) bits, growing with P without bound. With ρ = 0 it is P·D·(1 − H₂(ε)).
    """
    if cue_error <= 0.0:
        return count * dim * (1.0 - binary_entropy(error)) / budget
    restored = max(0.0, binary_entropy(cue_error) - binary_entropy(min(error, 0.5)))
    return count * dim * restored / binary_entropy(cue_error) / budget


def first_drop(points: dict[int, dict], key: str, level: float) -> tuple[int, int] | None:
    """(last P at or above the level, first P below it) on the ``key`` curve, or None without such a pair."""
    ordered = sorted(points)
    for before, after in zip(ordered, ordered[1:], strict=False):
        if points[after][key] < level <= points[before][key]:
            return before, after
        if points[before][key] < level:
            return None
    return None


def scanned_criteria(arm: Arm) -> tuple[str, ...]:
    """The criteria whose crossing the scan must reach: both for pairwise nets (Gardner's bound is on fixed points),
    only exact recall for the others (their fixed points outlast recall by far and would multiply the cost)."""
    return CRITERIA if is_pairwise(arm.memory) else ("exact",)


def measure_curve(arm: Arm, dim: int, size: int, settings: Settings, choice: dict | None = None) -> list[dict]:
    """Scan the grid (P = b·M/D) until the curve has fallen below every level (½ included), then bisect the
    bracket of each level's first drop ``settings.refinements`` times (geometric midpoints), so the interpolated P
    does not straddle a cliff between two coarse grid points. The grid and its bisections are the same for every arm
    (``Settings.checked``): two memories with the same recall curve get the same P at every level."""
    points: dict[int, dict] = {}
    below = 0
    lowest = min(HALF, *settings.levels)
    for count in arm.counts(dim, size):
        points[count] = point = measure_point(arm, dim, size, count, settings, choice)
        below = below + 1 if all(point[key] < lowest for key in scanned_criteria(arm)) else 0
        if below >= STOP_AFTER:
            break
    for key in scanned_criteria(arm):
        for level in settings.levels:
            for _ in range(settings.refinements):
                bracket = first_drop(points, key, level)
                if bracket is None:
                    break
                middle = round(math.sqrt(bracket[0] * bracket[1]))
                if middle in bracket:
                    break
                points[middle] = measure_point(arm, dim, size, middle, settings, choice)
    return [points[count] for count in sorted(points)]


# the record ---------------------------------------------------------------------------------------------------------
def capacity(counts: list[int], per_trial: list[list[float]], level: float, scale: float, generator) -> dict:
    """P at which the mean fraction falls below ``level`` with its bootstrap interval, and bits per parameter
    P·``scale`` (scale = D/M) with the same interval; a null P carries ``P_c_outside`` (side, grid edge, fraction)."""
    fractions = [sum(trials) / len(trials) for trials in per_trial]
    value = crossing(counts, fractions, level)
    low, high = bootstrap_crossing(counts, per_trial, level, BOOTSTRAP_SAMPLES, generator)

    def rounded(count, factor=1.0):
        return None if count is None else round(count * factor, 6)

    entry = {
        "level": level,
        "P_c": rounded(value),
        "P_c_low": rounded(low),
        "P_c_high": rounded(high),
        "bits_per_parameter": rounded(value, scale),
        "bits_low": rounded(low, scale),
        "bits_high": rounded(high, scale),
    }
    if value is not None:
        return entry
    side = grid_side(fractions, level)
    edge = 0 if side == "below_grid" else -1
    entry["P_c_outside"] = {"side": side, "load": float(counts[edge]), "fraction": round(fractions[edge], 6)}
    entry["bits_per_parameter_outside"] = {
        "side": side,
        "load": round(counts[edge] * scale, 6),
        "fraction": round(fractions[edge], 6),
    }
    return entry


def capacities(counts: list[int], per_trial: list[list[float]], levels: list[float], scale: float, generator) -> dict:
    """{level key: :func:`capacity`} at every level, and ``half`` (P½, the secondary column)."""
    entry = {level_key(level): capacity(counts, per_trial, level, scale, generator) for level in levels}
    entry["half"] = capacity(counts, per_trial, HALF, scale, generator)
    return entry


def keep_k(counts: list[int], units: int, dim: int, budget: int, levels: list[float]) -> dict:
    """What the trivial memory that keeps K patterns and forgets the rest scores on the same grid: f = min(1, K/P),
    its crossings at every level and at ½ (≈ 2K: the forgetting artifact), the patterns it recalls, and its
    information per parameter (the forgotten patterns' recalled bits are taken as coin flips: ε = ½ on them)."""
    fractions = [min(1.0, units / count) for count in counts]
    entry = {level_key(level): _rounded(crossing(counts, fractions, level)) for level in (*levels, HALF)}
    entry["half"] = entry.pop(level_key(HALF))
    entry["recalled"] = max(min(count, units) for count in counts)
    entry["information"] = round(max(min(count, units) * dim / budget for count in counts), 6)
    return entry


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def training_summary(points: list[dict], choice: dict) -> dict:
    """A backprop arm's fits at one budget: the lr and init chosen by the sweep (and the sweep, each fit with its own
    flag), the updates every fit of the grid took (median and largest), how many stopped on the cap rather than on the
    plateau or stalled (``fits_not_converged``), how many stalled (``fits_stalled``: flat at their start's loss,
    :class:`hebbdam.lit.backprop.Plateau`), and whether the chosen fit of the sweep and every fit of the grid stopped on
    the plateau (``converged``); the updates are over the fits that trained; ``fits_solved_start``: fits of the grid
    whose start already recalled every stored pattern, kept untrained (0 updates; :func:`build_memory`)."""
    fits = [
        (updates, solved)
        for p in points
        for updates, solved in zip(p["fit"]["updates"], p["fit"]["solved_start"], strict=True)
    ]
    updates = sorted(u for u, solved in fits if not solved) or [0]  # the fits that trained
    flags = [c for p in points for c in p["fit"]["converged"]]
    return {
        **choice,
        "converged": all(flags) and choice["converged"],
        "fits_not_converged": sum(not c for c in flags),
        "fits_stalled": sum(s for p in points for s in p["fit"]["stalled"]),
        "updates_max": updates[-1],
        "updates_median": statistics.median(updates),
        "fits": len(flags),
        "fits_kept_start": sum(  # trained fits that lost to a start (a solved start was never trained)
            kept in ("start", "written") and not solved
            for p in points
            for kept, solved in zip(p["fit"]["kept"], p["fit"]["solved_start"], strict=True)
        ),
        "fits_solved_start": sum(solved for _, solved in fits),
    }


def summarise(
    arm: Arm, dim: int, size: int, points: list[dict], settings: Settings, generator, choice: dict | None = None
) -> dict:
    """The record entry of one (D, budget) from its curve points (see the module docstring)."""
    budget = arm.parameters(dim, size)
    counts = [p["patterns"] for p in points]
    result: dict = {"D": dim, "size": size, "M": budget}
    if arm.budget(dim, size) != budget:  # pseudo-inverse slots: fitted into the nominal budget it is compared at
        result["budget_M"] = arm.budget(dim, size)
    for key in CRITERIA:
        result[key] = capacities(counts, [p[f"{key}_trials"] for p in points], settings.levels, dim / budget, generator)
    recalled = [[count * f for f in p["exact_trials"]] for count, p in zip(counts, points, strict=True)]
    result["recalled"] = bootstrap_best(counts, recalled, BOOTSTRAP_SAMPLES, generator)
    information = [p["information_trials"] for p in points]
    result["information"] = bootstrap_best(counts, information, BOOTSTRAP_SAMPLES, generator)
    result["information"]["bit_error"] = next(
        p["bit_error"] for p in points if p["patterns"] == result["information"]["at"]
    )
    if holds_rows(arm.memory):
        result["keep_K"] = keep_k(counts, size, dim, budget, settings.levels)
    if arm.rule == BACKPROP:
        assert choice is not None  # measure_budget chooses the fit of every backprop arm
        result["training"] = training_summary(points, choice)
    if has_normed_units(arm.rule):
        result["unit_norm"] = fixed_point_summary([p["unit_norm"] for p in points])
    return result


def fixed_point_summary(norms: list[dict]) -> dict:
    """The K&H 2019 fits of one budget against their fixed point ‖W_μ‖_p = 1 (:func:`unit_norms`): the mean p-norm,
    the largest per-fit mean gap |‖W_μ‖_p − 1| over the winning units and the largest single winner's gap, the
    largest per-fit mean gap over all K units and the most units a fit left never winning, and ``converged``: every
    fit's mean gap over its winners at most ``NORM_TOLERANCE`` (a single winner's largest gap is reported, not
    gated; a unit that never wins keeps its start however long the rule runs, so it is counted, not gated)."""
    means = [v for n in norms for v in n["gap_mean"]]
    return {
        "mean": round(statistics.fmean(v for n in norms for v in n["unit_norm"]), 6),
        "gap_mean": max(means),
        "gap_max": max(v for n in norms for v in n["gap_max"]),
        "gap_all": max(v for n in norms for v in n["gap_all"]),
        "never_won": max(v for n in norms for v in n["never_won"]),
        "tolerance": NORM_TOLERANCE,
        "fits": len(means),
        "fits_not_converged": sum(v > NORM_TOLERANCE for v in means),
        "converged": all(v <= NORM_TOLERANCE for v in means),
    }


@dataclass(frozen=True)
class Budget:
    """One independent measurement: an arm at one D and one budget size, with the stage's settings (picklable: a
    worker process of ``hebbdam.parallel.map_fits`` receives it whole)."""

    arm: Arm
    dim: int
    size: int
    settings: Settings


def measure_budget(job: Budget) -> tuple[dict, list[dict], float]:
    """The record entry of one (arm, D, budget) (:func:`summarise`), its curve points and the seconds it took: a
    backprop arm's lr × init sweep (:func:`choose_fit`) then the scan of its grid (:func:`measure_curve`). Every
    random draw is seeded by (seed, arm, D, size, …), so the result does not depend on where or when it runs."""
    start = time.perf_counter()
    arm, dim, size, settings = job.arm, job.dim, job.size, job.settings
    choice = choose_fit(arm, dim, size, settings) if arm.rule == BACKPROP else None
    points = measure_curve(arm, dim, size, settings, choice)
    generator = generator_for(settings.seed, arm.name, dim, size, "bootstrap")
    result = summarise(arm, dim, size, points, settings, generator, choice)
    return result, points, time.perf_counter() - start


def arm_entry(arm: Arm) -> dict:
    """The record entry of an arm before its budgets: memory, rule, locality (and a backprop arm's cap, lrs, inits)."""
    entry: dict = {"memory": arm.memory, "rule": arm.rule, "locality": arm.locality, "budgets": {}}
    if arm.rule == BACKPROP:
        entry["updates_cap"] = int(arm.options.get("updates", DEFAULT_UPDATES))
        entry["lrs"], entry["inits"] = arm.lrs, arm.inits
        if arm.random_lr is not None:
            entry["random_lr"] = arm.random_lr
    return entry


def expected_cost(job: Budget) -> tuple[bool, int]:
    """The order in which the workers take the jobs, largest first (backprop, then by parameters M): the longest
    fits (D = 64, K = 256: about a third of the stage's CPU) start at once instead of last, so no worker idles while
    one finishes them. The record does not depend on the order (:func:`measure_budget`)."""
    return job.arm.rule == BACKPROP, job.arm.parameters(job.dim, job.size)


def run(settings: Settings) -> tuple[dict, list[dict]]:
    """Measure every arm at every (D, budget), the budgets as independent fits (``hebbdam.parallel.map_fits``, the
    costliest first, :func:`expected_cost`; the results in job order, the same for any number of workers): (record
    arms, curve points)."""
    arms = {arm.name: arm_entry(arm) for arm in settings.arms}
    jobs = [Budget(arm, dim, size, settings) for arm in settings.arms for dim in arm.dims for size in arm.budgets(dim)]
    order = sorted(range(len(jobs)), key=lambda i: expected_cost(jobs[i]), reverse=True)
    results: list = [None] * len(jobs)
    for i, result in zip(order, map_fits(measure_budget, [jobs[i] for i in order]), strict=True):
        results[i] = result
    curves: list[dict] = []
    first = level_key(settings.levels[0])
    for job, (result, points, seconds) in zip(jobs, results, strict=True):
        curves.extend({k: v for k, v in p.items() if k != "fit"} for p in points)
        arms[job.arm.name]["budgets"][f"D{job.dim}_M{result['M']}"] = result
        exact = result["exact"][first]
        say(
            f"budget patterns {job.arm.name} D={job.dim} M={result['M']}: P at {settings.levels[0]:g} "
            f"{exact['P_c']} [{exact['P_c_low']}, {exact['P_c_high']}], {result['information']['value']} "
            f"bits/parameter at P = {result['information']['at']}"
            + (f", converged {result['training']['converged']}" if "training" in result else "")
            + f" ({seconds:.1f} s)"
        )
    return arms, curves


def compute(settings: Settings, params: Params, tracker) -> dict[str, object]:
    """The record and the recall curves against P (W&B curves come from the Curves spec of :func:`main`)."""
    arms, curves = run(settings)
    record = {
        "flip_fraction": settings.flip_fraction,
        "trials": settings.trials,
        "levels": settings.levels,
        "half": HALF,
        "arms": arms,
    }
    return {"budget_patterns.json": record, "budget_patterns_curves.json": curves}


def main(args) -> None:
    """``hebbdam budget_patterns``: E8a (params ``budget.patterns``) → budget_patterns.json and its curves."""
    run_stage(
        args,
        "budget.patterns",
        parse_settings,
        compute,
        record_name="budget_patterns",
        headline=lambda record: select(record, "arms.*.budgets.*.exact.L0_9.P_c", "arms.*.budgets.*.information.value"),
        curves=(
            Curves("budget_patterns_curves.json", x="patterns", y=(*CRITERIA, "information"), series=("arm", "D", "M")),
        ),
    )
