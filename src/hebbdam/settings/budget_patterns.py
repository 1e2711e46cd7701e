"""The settings of ``hebbdam.experiments.budget_patterns``, moved here from it so that composing imports no torch
(:mod:`hebbdam.settings`); the experiment's ``parse_settings`` builds their rules and separations."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from ..config import ConfigError, Params
from ..schema import (
    FRACTION,
    MAPPING,
    NONNEG_INT,
    POSITIVE,
    POSITIVE_INT,
    POSITIVE_LIST,
    STRING,
    Named,
    choice,
    int_list,
    number,
    number_list,
    optional,
    parse,
    setting,
    subset,
)
from ..stage_spec import Plot, Stage
from .arms import (
    GradientOptions,
    KernelOptions,
    WrittenOptions,
    checked_rule,
    options_of,
)
from .catalogue import parameter_count, rule_info
from .common import (
    SEPARATION,
    trainer_options,
)

# the registry kinds this experiment fills
MEMORIES = ("hopfield", "random_features", "quadruplets", "simplicial", "dense")


BACKPROP = "backprop"  # the rule name of the arms trained by gradient descent (not a registry rule: BackpropModule)


PI_SLOTS = "pseudo_inverse_slots"  # K slots read through their Gram inverse: M = K·D + min(K·D, K²)


def pi_slot_parameters(units: int, dim: int) -> int:
    """M of K pseudo-inverse slots in D dimensions: the slots (K·D) and what turns them into keys, the Gram inverse
    (ΞΞᵀ)⁺ (K²) or, where that is larger (K > D), the K·D keys themselves."""
    return units * dim + min(units * dim, units * units)


def pi_slot_units(dim: int, budget: int) -> int:
    """The most pseudo-inverse slots whose M (:func:`pi_slot_parameters`) fits a budget of M parameters at D (0: none
    fits)."""
    units = budget // dim
    while units > 0 and pi_slot_parameters(units, dim) > budget:
        units -= 1
    return units


INITS = ("written", "random")  # starts of a backprop fit: the rule's own write (slots, Hebb, feature sum), or random


NONNEG_NUMBER = number("a number in [0, ∞)", lambda v: 0 <= v < math.inf)
LEVEL = number_list("a non-empty list of recall levels in (0, 1)", lambda v: 0.0 < v < 1.0)


@dataclass(frozen=True, kw_only=True)
class ConvergedOptions(GradientOptions):
    """A backprop arm trained to its plateau: ``updates`` is the cap; ``lrs`` the learning rates swept (else
    ``lr`` alone) and ``inits`` the starts tried at one budget, on one set of P = ``sweep_load``·M/D patterns;
    ``random_lr`` the one lr of ``lrs`` the ``random`` start is tried at (default: every lr); ``window`` /
    ``tolerance`` / ``floor`` / ``noise`` / ``confirm`` the plateau rule (lit.backprop.Plateau). The bisections of
    the grid of P are the section's ``refinements``, the same for every arm."""

    lrs: list[float] = setting(POSITIVE_LIST)
    inits: list[str] = setting(subset("a non-empty list of " + " / ".join(INITS), INITS, distinct=True))
    window: int = setting(POSITIVE_INT)
    tolerance: float = setting(POSITIVE)
    floor: float = setting(POSITIVE)  # the training loss at which the stored set counts as solved (DEFAULT_FLOOR)
    noise: float = setting(NONNEG_NUMBER)  # window means within this many standard errors count as flat (DEFAULT_NOISE)
    confirm: int = setting(POSITIVE_INT)  # consecutive flat readings before the fit stops (default 1)
    sweep_load: float = setting(POSITIVE)  # the load b (P = b·M/D) of the lr × init sweep (default 1)
    random_lr: float = setting(POSITIVE)  # the lr of ``lrs`` the random start is tried at (default: every lr)


def _option_kind(values: dict) -> tuple[str, tuple[type, ...]]:
    """The option schemas of an arm (hebbdam.experiments.arms; shared with the capacity ladder)."""
    filled = (ConvergedOptions,) if values["rule"] == BACKPROP else (WrittenOptions,)
    kernel = (KernelOptions,) if values["memory"] == "random_features" else ()
    return f"memory '{values['memory']}' with rule '{values['rule']}'", filled + kernel


@dataclass(frozen=True, kw_only=True)
class Arm:
    """A memory, how it is filled (a registry rule name or ``backprop``), the D and budget sizes to measure.

    ``sizes``: the budget knob per D (features: Y frequencies; quadruplets: M; hidden: K units; unused for
    pairwise, whose budget is D²), or ``size_ratios``: the knob as multiples of D (K ∈ {D/4, D, 4D}). ``loads``:
    the arm's own grid, else the section's. ``hyper``: the rule's hyper-parameters; ``options``: epochs /
    batch_size (iterative rules), beta (features: kernel exp(-beta‖σ-ξ‖²/2D)), updates / lr / lrs / inits / window /
    tolerance / confirm / sweep_load / random_lr / steps / batch_size (backprop, :class:`ConvergedOptions`).
    """

    name: str
    memory: str = setting(choice(*MEMORIES))
    rule: str = setting(STRING)
    dims: list[int] = setting(int_list(4))
    size_ratios: list[float] | None = setting(optional(POSITIVE_LIST), None)  # sizes as multiples of D (K = r·D)
    sizes: list[int] | None = setting(
        int_list(1), when=lambda v: v["memory"] != "hopfield" and v["size_ratios"] is None
    )  # None: hopfield, or sizes from size_ratios
    loads: list[float] | None = setting(optional(POSITIVE_LIST), None, then=lambda v: None if v is None else sorted(v))
    hyper: dict = setting(MAPPING, {}, when=lambda v: v["rule"] != BACKPROP)
    options: dict = options_of(_option_kind)
    separation: Any = setting(SEPARATION, when=lambda v: v["memory"] == "dense")  # SeparationSchema, then Separation

    def checked(self, section: Params) -> Arm:
        """A backprop arm needs trainable parameters; a registry rule must take ``hyper`` and write the memory."""
        if self.rule == PI_SLOTS:
            if self.memory != "dense":
                raise ConfigError(section.key("memory"), f"dense for rule {PI_SLOTS}", self.memory)
            for dim in self.dims:
                if 0 in self.budgets(dim):
                    raise ConfigError(section.key("dims"), "a D at which one pseudo-inverse slot fits each budget", dim)
        if self.rule == BACKPROP:
            if self.memory in ("quadruplets", "simplicial"):
                raise ConfigError(
                    section.key("rule"), f"a registry rule for a {self.memory} memory (no backprop arm)", self.rule
                )
            if self.memory == "random_features" and "random" in self.inits:
                raise ConfigError(section.key("options.inits"), "[written] for a random-feature memory", self.inits)
            if self.random_lr is not None and self.random_lr not in self.lrs:
                raise ConfigError(section.key("options.random_lr"), f"one of the lrs {self.lrs}", self.random_lr)
            return self
        try:
            hyper = self.sample_hyper()
        except TypeError as err:  # hyper repeats a size-dependent hyper-parameter
            raise ConfigError(
                section.key("hyper"), f"hyper-parameters rule '{self.rule}' accepts ({err})", self.hyper
            ) from err
        checked_rule(section, self.rule, hyper, self.memory, f"{BACKPROP} or one of")
        return self

    @property
    def locality(self) -> str:
        return "nonlocal" if self.rule == BACKPROP else rule_info(self.rule).locality

    @property
    def lrs(self) -> list[float]:
        return list(self.options.get("lrs", [self.options.get("lr", 0.01)]))

    @property
    def random_lr(self) -> float | None:
        """The one lr the random start is tried at (None: every lr of the sweep)."""
        return self.options.get("random_lr")

    def inits_at(self, lr: float) -> list[str]:
        """The starts tried at ``lr``: every one of ``inits``, the random start only at ``random_lr`` when set."""
        return [init for init in self.inits if init != "random" or self.random_lr in (None, lr)]

    @property
    def inits(self) -> list[str]:
        return list(self.options.get("inits", ["written"] if self.memory == "random_features" else ["random"]))

    def sample_hyper(self) -> dict:
        """The hyper-parameters of the arm's rule at its largest D and first budget (what the check builds)."""
        dim = max(self.dims)
        return rule_hyper(self, dim, self.budgets(dim)[0], seed=0)

    def nominal(self, dim: int) -> list[int]:
        """The budget sizes at D: D for pairwise, else ``sizes`` or round(r·D) per ``size_ratios`` (K hidden units)."""
        if self.memory == "hopfield":
            return [dim]
        return self.sizes or [max(1, round(ratio * dim)) for ratio in self.size_ratios or ()]

    def budgets(self, dim: int) -> list[int]:
        """The sizes measured at D: the nominal ones (:meth:`nominal`), for pseudo-inverse slots the most slots whose
        M fits the nominal K units' budget K·D (:func:`pi_slot_units`; M is then at most that budget)."""
        if self.rule == PI_SLOTS:
            return [pi_slot_units(dim, size * dim) for size in self.nominal(dim)]
        return self.nominal(dim)

    def parameters(self, dim: int, size: int) -> int:
        """M of the filled memory at D and size (pseudo-inverse slots: :func:`pi_slot_parameters`)."""
        return pi_slot_parameters(size, dim) if self.rule == PI_SLOTS else parameter_count(self.memory, dim, size)

    def budget(self, dim: int, size: int) -> int:
        """The budget M this size competes at: its own M, for pseudo-inverse slots the nominal K·D it was fitted into
        (the answer compares it there; its bits per parameter use its own :meth:`parameters`)."""
        if self.rule == PI_SLOTS:
            nominal = dict(zip(self.budgets(dim), self.nominal(dim), strict=True))[size]
            return parameter_count(self.memory, dim, nominal)
        return parameter_count(self.memory, dim, size)

    def counts(self, dim: int, size: int) -> list[int]:
        """The grid of P at (D, budget): P = b·M/D per load b (M the :meth:`budget` competed at), at least 1,
        duplicates dropped, ascending."""
        budget = self.budget(dim, size)
        return sorted({max(1, round(load * budget / dim)) for load in self.loads or ()})


@dataclass(frozen=True, kw_only=True)
class Settings:
    seed: int = setting(NONNEG_INT)
    trials: int = setting(POSITIVE_INT)
    flip_fraction: float = setting(FRACTION)
    max_sweeps: int = setting(POSITIVE_INT)
    levels: list[float] = setting(LEVEL, [0.9, 0.99], then=sorted)
    loads: list[float] = setting(POSITIVE_LIST, then=sorted)
    refinements: int = setting(NONNEG_INT, 2)  # bisections of each level's bracket, the same for every arm
    arms: list[Arm] = setting(Named(Arm, "at least one arm"))
    trainer: dict = field(default_factory=dict)
    device: Any = None  # the torch.device it runs on, given by the experiment's parse_settings

    def checked(self, section: Params) -> Settings:
        """Arms without their own ``loads`` take the section's grid; every budget must fit at least two pattern
        counts of its grid (a crossing needs a bracket); arms of one memory kind at one budget (D, M) share one grid
        of P (with the section's one ``refinements``, two arms with the same recall curve get the same P at every
        level: a different grid would move an interpolated crossing and decide a verdict by itself)."""
        arms = [arm if arm.loads else replace(arm, loads=self.loads) for arm in self.arms]
        grids: dict[tuple[str, int, int], tuple[str, list[int]]] = {}
        for arm in arms:
            for dim in arm.dims:
                for size in arm.budgets(dim):
                    counts = arm.counts(dim, size)
                    key = section.key(f"arms.{arm.name}.loads")
                    if len(counts) < 2:
                        raise ConfigError(key, "a budget whose grid of loads gives at least two pattern counts", size)
                    budget = (arm.memory, dim, arm.budget(dim, size))
                    first, grid = grids.setdefault(budget, (arm.name, counts))
                    if grid != counts:
                        raise ConfigError(key, f"the grid of P of arm {first} at D = {dim}, M = {budget[2]}", counts)
        return replace(self, arms=arms)


def rule_hyper(arm: Arm, dim: int, size: int, seed: int) -> dict:
    """The hyper-parameters of a non-backprop arm's registry rule at dimension D and budget size (its size-dependent
    ones set here: features, beta and seed of random_features, count and seed of quadruplets and simplicial, units of
    krotov_hopfield); a TypeError when ``hyper`` repeats one of them."""
    extra: dict = {}
    if arm.memory == "random_features":
        extra = {"features": 2 * size, "beta": float(arm.options.get("beta", 1.0)) / dim, "seed": seed}
    elif arm.memory in ("quadruplets", "simplicial"):
        extra = {"count": size, "seed": seed}
    elif arm.memory == "dense" and rule_info(arm.rule).target != "slots":
        extra = {"units": size}
    return dict(**arm.hyper, **extra)


def parse_settings(params: Params, section_name: str = "budget.patterns", **given: Any) -> Settings:
    """The section read into :class:`Settings`, checked whole before any computation starts."""
    return parse(Settings, params.section(section_name), trainer=trainer_options(params), **given)


# the DVC stage this experiment runs (hebbdam.stages collects every settings module's STAGES)
STAGES: tuple[Stage, ...] = (
    Stage(
        name="budget_patterns",
        entry="hebbdam.experiments.budget_patterns:main",
        help="E8a: random patterns stored per parameter budget, local rules against backprop",
        params=("budget.patterns",),
        records=("budget_patterns.json",),
        curves=("budget_patterns_curves.json",),
        figures=("budget_answer", "budget_patterns"),  # the E8 answer (reads budget_images.json too) opens E8
        plots=(
            Plot(
                "budget_patterns",
                "E8a: fraction recalled exactly against the number of stored patterns",
                "budget_patterns_curves.json",
                x="patterns",
                y="exact",
                series="arm",
                facet=("arm",),
            ),
        ),
        position=80,
    ),
)
