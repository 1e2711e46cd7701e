"""E8a: how many random patterns each learning rule fits into a fixed budget of M parameters.

Random ±1 patterns Ξ (P, D). Each arm is a memory with a parameter budget M and a way to fill it:
- ``hopfield``: W (D, D), M = D², written by a pairwise rule (hebb, storkey, pseudo_inverse, delta) or trained by
  backprop (denoising through unrolled recall, ``lit.backprop.fit_denoising``);
- ``random_features``: the random-feature memory (DrDAM) with Y frequencies, M = 2Y (the tensor T; Ω is a fixed random
  draw regenerated from a seed, not a learned parameter), written by the Hebbian feature sum (rule
  ``random_features``) or the same Ω with T trained by backprop (started from the Hebbian write);
- ``quadruplets``: the 4th-order (neuron–astrocyte) memory on M random index quadruplets, M couplings;
- ``dense``: a DAM with K hidden units Ξ (K, D), M = K·D, filled with K < P units by the first K patterns (rule
  ``slot``: the one-shot DAM), the K&H 2019 competing-units rule (``krotov_hopfield``) or backprop.
Local/nonlocal is the rule's own label; backprop is nonlocal.

Criterion (one number per arm, D and budget): P_c = the number of stored patterns at which half of them are
recalled exactly (every bit) after synchronous relaxation from the pattern with ``flip_fraction``·D flipped bits,
interpolated on the grid of P; its 95% interval resamples the trials. ``fixed_point`` is the same with ρ = 0 (every
neuron of the pattern strictly aligned with its field): the criterion of Gardner's bound (2 bits per synapse, zero
margin), so bits per parameter P_c·D/M is compared with Gardner's 2 on the fixed-point criterion only.

The grid of P is given in bits per parameter, P = b·M/D, so one grid serves every budget; the scan stops after
``STOP_AFTER`` consecutive points below the level (both fractions for pairwise nets, exact recall for the others:
their fixed-point P_c is reported only where it falls inside that range), then each crossing's bracket is bisected.
A P_c outside the scanned grid is null and carries ``P_c_outside`` (and ``bits_per_parameter_outside``): the side
(``below_grid``: under the level at the first P; ``above_grid``: still at it at the last), the grid's edge and the
fraction there, as the regression gate expects.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace

import torch

from ..config import ConfigError, Params
from ..data.synthetic import flip_bits, rademacher
from ..dynamics import relax
from ..lit import store
from ..lit.backprop import FeatureMap, MemoryMatrix, PairwiseWeights, fit_denoising
from ..logs import say
from ..memory import BinaryMemory, Memory, Separation, get_kind
from ..memory.random_features import feature_frequencies
from ..metrics import binarise, bootstrap_crossing, crossing, exact_recall, grid_side
from ..rules import Rule, get_rule
from ..schema import (
    FRACTION,
    MAPPING,
    NONNEG_INT,
    POSITIVE_INT,
    POSITIVE_LIST,
    STRING,
    Named,
    choice,
    int_list,
    optional,
    parse,
    setting,
)
from .arms import GradientOptions, KernelOptions, WrittenOptions, checked_rule, options_of
from .common import (
    SEPARATION,
    Curves,
    compute_device,
    generator_for,
    run_stage,
    select,
    separation_at,
    trainer_options,
)

MEMORIES = ("hopfield", "random_features", "quadruplets", "dense")  # the registry kinds this experiment fills
BACKPROP = "backprop"  # the rule name of the arms trained by gradient descent (not a registry rule: BackpropModule)
CRITERIA = ("exact", "fixed_point")
STOP_AFTER = 2  # consecutive grid points with both fractions below the level end the scan
REFINEMENTS = 2  # bisections of the bracket around each criterion's crossing (grid ratio √2 → ≈ 1.09)
BOOTSTRAP_SAMPLES = 200
DEFAULT_UPDATES = 300  # gradient updates of a backprop arm without ``options.updates``


def _option_kind(values: dict) -> tuple[str, tuple[type, ...]]:
    """The option schemas of an arm (hebbdam.experiments.arms; shared with the capacity ladder)."""
    filled = (GradientOptions,) if values["rule"] == BACKPROP else (WrittenOptions,)
    kernel = (KernelOptions,) if values["memory"] == "random_features" else ()
    return f"memory '{values['memory']}' with rule '{values['rule']}'", filled + kernel


@dataclass(frozen=True, kw_only=True)
class Arm:
    """A memory, how it is filled (a registry rule name or ``backprop``), the D and budget sizes to measure.

    ``sizes``: the budget knob per D (features: Y frequencies; quadruplets: M; hidden: K units; unused for
    pairwise, whose budget is D²). ``loads``: the arm's own grid, else the section's. ``hyper``: the rule's
    hyper-parameters; ``options``: epochs / batch_size (iterative rules), beta (features: kernel exp(-beta‖σ-ξ‖²/2D)),
    updates / lr / steps / batch_size (backprop).
    """

    name: str
    memory: str = setting(choice(*MEMORIES))
    rule: str = setting(STRING)
    dims: list[int] = setting(int_list(4))
    sizes: list[int] | None = setting(int_list(1), when=lambda v: v["memory"] != "hopfield")  # None: hopfield
    loads: list[float] | None = setting(optional(POSITIVE_LIST), None, then=lambda v: None if v is None else sorted(v))
    hyper: dict = setting(MAPPING, {}, when=lambda v: v["rule"] != BACKPROP)
    options: dict = options_of(_option_kind)
    separation: Separation | None = setting(SEPARATION, when=lambda v: v["memory"] == "dense")

    def checked(self, section: Params) -> Arm:
        """A backprop arm needs trainable parameters; a registry rule must take ``hyper`` and write the memory."""
        if self.rule == BACKPROP:
            if self.memory == "quadruplets":
                raise ConfigError(
                    section.key("rule"), "a registry rule for a quadruplet memory (no backprop arm)", self.rule
                )
            return self
        checked_rule(section, self.rule, self.hyper, self.memory, self.sample_rule, f"{BACKPROP} or one of")
        return self

    @property
    def locality(self) -> str:
        return "nonlocal" if self.rule == BACKPROP else self.sample_rule().locality

    def sample_rule(self) -> Rule:
        """The arm's rule at its largest D and first budget (validates the hyper-parameters)."""
        dim = max(self.dims)
        return rule_for(self, dim, self.budgets(dim)[0], seed=0)

    def budgets(self, dim: int) -> list[int]:
        return [dim] if self.memory == "hopfield" else self.sizes


@dataclass(frozen=True, kw_only=True)
class Settings:
    seed: int = setting(NONNEG_INT)
    trials: int = setting(POSITIVE_INT)
    flip_fraction: float = setting(FRACTION)
    max_sweeps: int = setting(POSITIVE_INT)
    level: float = setting(FRACTION)
    loads: list[float] = setting(POSITIVE_LIST, then=sorted)
    arms: list[Arm] = setting(Named(Arm, "at least one arm"))
    trainer: dict = field(default_factory=dict)
    device: torch.device = torch.device("cpu")

    def checked(self, section: Params) -> Settings:
        """Arms without their own ``loads`` take the section's grid."""
        return replace(self, arms=[arm if arm.loads else replace(arm, loads=self.loads) for arm in self.arms])


def parameter_count(memory: str, dim: int, size: int) -> int:
    """M of a memory kind (the registry's count): hopfield D², random_features 2Y (the tensor T), quadruplets M,
    dense K·D."""
    return get_kind(memory).parameters(dim, size)


def rule_for(arm: Arm, dim: int, size: int, seed: int) -> Rule:
    """The registry rule of a non-backprop arm at dimension D and budget size (its size-dependent hyper-parameters
    set here: features, beta and seed of random_features, count and seed of quadruplets, units of krotov_hopfield)."""
    extra: dict = {}
    if arm.memory == "random_features":
        extra = {"features": 2 * size, "beta": float(arm.options.get("beta", 1.0)) / dim, "seed": seed}
    elif arm.memory == "quadruplets":
        extra = {"count": size, "seed": seed}
    elif arm.memory == "dense" and arm.rule != "slot":
        extra = {"units": size}
    return get_rule(arm.rule, **arm.hyper, **extra)


def parse_settings(params: Params, section_name: str = "budget.patterns") -> Settings:
    """The section read into :class:`Settings`, checked whole before any computation starts."""
    return parse(Settings, params.section(section_name), trainer=trainer_options(params), device=compute_device(params))


# filling a memory -------------------------------------------------------------------------------------------------
def build_memory(arm: Arm, patterns: torch.Tensor, size: int, seed: int, settings: Settings) -> Memory:
    """Fill the arm's memory with ``patterns`` (P, D): a registry rule through ``lit.store`` (no autograd) or
    backprop through ``lit.backprop.fit_denoising``."""
    dim = patterns.shape[1]
    separation = separation_at(arm.separation, dim)
    if arm.rule != BACKPROP:
        rule = rule_for(arm, dim, size, seed)
        written = patterns[:size] if rule.target == "slots" else patterns  # a K-slot DAM keeps the first K
        epochs, batch = int(arm.options.get("epochs", 1)), int(arm.options.get("batch_size", 1024))
        module = store(written, rule, settings.trainer, batch_size=batch, seed=seed, max_epochs=epochs, logger=False)
        return module.memory(separation, kind=arm.memory)
    if arm.memory == "hopfield":
        trainable = PairwiseWeights(dim, init_std=0.01, seed=seed)
    elif arm.memory == "random_features":
        beta = float(arm.options.get("beta", 1.0)) / dim
        omega = feature_frequencies(dim, 2 * size, beta, seed)
        trainable = FeatureMap(dim, 2 * size, beta, omega=omega, train_frequencies=False)
        trainable.write(patterns)  # start from the Hebbian feature sum; backprop trains T only
    else:
        trainable = MemoryMatrix(size, dim, separation, init_std=0.1, seed=seed)
    module = fit_denoising(
        trainable,
        patterns,
        flip=settings.flip_fraction,
        steps=int(arm.options.get("steps", 3)),
        lr=float(arm.options.get("lr", 0.01)),
        updates=int(arm.options.get("updates", DEFAULT_UPDATES)),
        batch_size=int(arm.options.get("batch_size", 8)),
        seed=seed,
        trainer_options=settings.trainer,
        logger=False,  # hundreds of small fits: the stage logs its curves, not each fit's steps
    )
    return module.memory.export()


def stable(memory: Memory, patterns: torch.Tensor) -> torch.Tensor:
    """(P,) bool: every neuron strictly aligned with its field, ξ_i h_i > 0 (Gardner's zero-margin criterion: a zero
    field, e.g. W = 0, does not count); a continuous memory: one step read out by sign leaves the pattern."""
    if isinstance(memory, BinaryMemory):
        return (patterns * memory.field(patterns) > 0).all(dim=1)
    return (binarise(memory.step(patterns)) == patterns).all(dim=1)


def probe(arm: Arm, dim: int, size: int, count: int, trial: int, settings: Settings) -> dict[str, float]:
    """Store ``count`` random patterns once; the fraction recalled exactly from ρD flipped bits and the fraction
    that are fixed points."""
    generator = generator_for(settings.seed, arm.name, dim, size, count, trial)
    seed = int(torch.randint(2**31 - 1, (1,), generator=generator))
    patterns = rademacher(count, dim, generator)
    probes = flip_bits(patterns, settings.flip_fraction, generator)
    memory = build_memory(arm, patterns, size, seed, settings).to(settings.device)
    patterns, probes = patterns.to(settings.device), probes.to(settings.device)
    final = binarise(relax(memory, probes, mode="sync", max_sweeps=settings.max_sweeps).states)
    with torch.no_grad():
        fixed = stable(memory, patterns)
    return {"exact": float(exact_recall(final, patterns).double().mean()), "fixed_point": float(fixed.double().mean())}


def measure_point(arm: Arm, dim: int, size: int, count: int, settings: Settings) -> dict:
    """Every trial at one P: the mean fractions and the per-trial ones (for the bootstrap)."""
    budget = parameter_count(arm.memory, dim, size)
    trials = [probe(arm, dim, size, count, t, settings) for t in range(settings.trials)]
    point = {"arm": arm.name, "D": dim, "size": size, "M": budget, "patterns": count, "load": count * dim / budget}
    for key in CRITERIA:
        values = [t[key] for t in trials]
        point[key] = round(sum(values) / len(values), 6)
        point[f"{key}_trials"] = [round(v, 6) for v in values]
    return point


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
    return CRITERIA if arm.memory == "hopfield" else ("exact",)


def measure_curve(arm: Arm, dim: int, size: int, settings: Settings) -> list[dict]:
    """Scan the grid (P = b·M/D, duplicates skipped) until the curve has fallen below the level, then bisect the
    bracket of each criterion's first drop ``REFINEMENTS`` times (geometric midpoints), so the interpolated P_c
    does not straddle a cliff between two coarse grid points."""
    budget = parameter_count(arm.memory, dim, size)
    points: dict[int, dict] = {}
    below = 0
    for load in arm.loads:
        count = max(1, round(load * budget / dim))
        if count in points:
            continue
        points[count] = point = measure_point(arm, dim, size, count, settings)
        below = below + 1 if all(point[key] < settings.level for key in scanned_criteria(arm)) else 0
        if below >= STOP_AFTER:
            break
    for key in scanned_criteria(arm):
        for _ in range(REFINEMENTS):
            bracket = first_drop(points, key, settings.level)
            if bracket is None:
                break
            middle = round(math.sqrt(bracket[0] * bracket[1]))
            if middle in bracket:
                break
            points[middle] = measure_point(arm, dim, size, middle, settings)
    return [points[count] for count in sorted(points)]


def capacity(points: list[dict], key: str, dim: int, budget: int, settings: Settings, generator) -> dict:
    """P_c on one criterion with its bootstrap interval, and bits per parameter P_c·D/M with the same interval."""
    counts = [p["patterns"] for p in points]
    fractions = [p[key] for p in points]
    value = crossing(counts, fractions, settings.level)
    status = "measured"
    if value is None:
        status = "below grid" if fractions[0] < settings.level else "above the scanned range"
    low, high = bootstrap_crossing(
        counts, [p[f"{key}_trials"] for p in points], settings.level, BOOTSTRAP_SAMPLES, generator
    )

    def bits(count):
        return None if count is None else round(count * dim / budget, 6)

    def rounded(count):
        return None if count is None else round(count, 6)

    entry = {
        "status": status,
        "P_c": rounded(value),
        "P_c_low": rounded(low),
        "P_c_high": rounded(high),
        "bits_per_parameter": bits(value),
        "bits_low": bits(low),
        "bits_high": bits(high),
    }
    if value is not None:
        return entry
    # a null P_c lies beyond the scanned grid: say which side, the grid's edge (in P and in bits) and the fraction
    # there, so the regression gate compares it as the interval beyond that edge
    side = grid_side(fractions, settings.level)
    edge = 0 if side == "below_grid" else -1
    entry["P_c_outside"] = {"side": side, "load": float(counts[edge]), "fraction": fractions[edge]}
    entry["bits_per_parameter_outside"] = {"side": side, "load": bits(counts[edge]), "fraction": fractions[edge]}
    return entry


def run(settings: Settings) -> tuple[dict, list[dict]]:
    """Measure every arm at every (D, budget): (record arms, curve points)."""
    arms: dict = {}
    curves: list[dict] = []
    for arm in settings.arms:
        entry = {"memory": arm.memory, "rule": arm.rule, "locality": arm.locality, "budgets": {}}
        if arm.rule == BACKPROP:
            entry["updates"] = int(arm.options.get("updates", DEFAULT_UPDATES))
        for dim in arm.dims:
            for size in arm.budgets(dim):
                start = time.perf_counter()
                budget = parameter_count(arm.memory, dim, size)
                points = measure_curve(arm, dim, size, settings)
                curves.extend(points)
                generator = generator_for(settings.seed, arm.name, dim, size, "bootstrap")
                result = {"D": dim, "size": size, "M": budget}
                for key in CRITERIA:
                    result[key] = capacity(points, key, dim, budget, settings, generator)
                entry["budgets"][f"D{dim}_M{budget}"] = result
                say(
                    f"budget patterns {arm.name} D={dim} M={budget}: P_c {result['exact']['P_c']} "
                    f"[{result['exact']['P_c_low']}, {result['exact']['P_c_high']}] "
                    f"({result['exact']['bits_per_parameter']} bits/parameter), fixed points "
                    f"{result['fixed_point']['P_c']} ({time.perf_counter() - start:.1f} s)"
                )
        arms[arm.name] = entry
    return arms, curves


def compute(settings: Settings, params: Params, tracker) -> dict[str, object]:
    """The record and the recall curves against P (W&B curves come from the Curves spec of :func:`main`)."""
    arms, curves = run(settings)
    record = {
        "flip_fraction": settings.flip_fraction,
        "trials": settings.trials,
        "level": settings.level,
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
        headline=lambda record: select(record, "arms.*.budgets.*.*.bits_per_parameter"),
        curves=(Curves("budget_patterns_curves.json", x="patterns", y=CRITERIA, series=("arm", "D", "M")),),
    )
