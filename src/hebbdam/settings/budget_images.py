"""The settings of ``hebbdam.experiments.budget_images``, moved here from it so that composing imports no torch
(:mod:`hebbdam.settings`); the experiment's ``parse_settings`` builds their rules and separations."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ..config import ConfigError, Params
from ..schema import (
    MAPPING,
    NONNEG_INT,
    POSITIVE,
    POSITIVE_INT,
    POSITIVE_LIST,
    STRING,
    Check,
    Named,
    choice,
    int_list,
    number,
    optional,
    parse,
    setting,
    subset,
)
from ..stage_spec import Plot, Stage
from .arms import (
    WrittenOptions,
    checked_rule,
    options_of,
)
from .catalogue import KIND_PARAMETERS, is_keyed, rule_info
from .common import (
    ANNEAL,
    OPEN_FRACTION,
    SEPARATION,
    binarize_threshold,
    data_root,
    trainer_options,
)

VERSIONS = ("grey", "binary")


BACKPROP = "backprop"  # trained by gradient descent (BackpropModule), not a registry rule


RULES = ("slot", "pseudo_inverse_slots", "prototype", "krotov_hopfield", "willshaw", "bcpnn")  # registry rules an arm
# may name


BCPNN_REGISTRY = "bcpnn"  # the registry rule whose locality the BCPNN hidden units share (Bayesian-Hebbian)


# rules that write a pairwise memory of the binarised images (no hidden units), each the registry kind of its own name
PAIRWISE = ("willshaw", BCPNN_REGISTRY)


# pairwise rules that store the images' modular code: one hypercolumn of two units (on, off) per pixel, 2D units
# (Lansner & Ekeberg 1989's binary units as BCPNN codes them)
MODULAR = (BCPNN_REGISTRY,)


BCPNN_HIDDEN = "bcpnn_hidden"  # K BCPNN hidden units (rules.bayesian_hidden), not a registry rule


TRAINED = ("prototype", "krotov_hopfield")  # rules that take units and epochs


MASKING = {"background": -1.0, "zero": 0.0}  # centred value c of a hidden pixel per convention


INITS = ("slots", "random")  # backprop's starting units: the first K stored images (cycled when P < K), or N(0, σ²)


@dataclass(frozen=True, kw_only=True)
class Condition:
    """How the memory reads: the image version and the separation F (its β per raw overlap for the exponential)."""

    name: str
    version: str = setting(choice(*VERSIONS))
    separation: Any = setting(SEPARATION)  # a SeparationSchema here, its Separation once built


@dataclass(frozen=True, kw_only=True)
class ConvergedOptions:
    """Backprop trained to its plateau: at most ``cap`` Adam updates, stopped when the training loss has not fallen
    by a relative ``tolerance`` over ``patience`` updates or is at most ``floor`` (Σ(x - out)² per image, pixel units:
    solved); ``lrs`` swept at the first of ``inits`` (``condition_lrs``: a condition's own lrs instead, where its
    chosen lr is known to lie elsewhere), every other init tried at the lr chosen there, the lowest training loss
    kept; the lr multiplied by ``anneal`` after every check of the plateau (``experiments.budget_images.CHECK_EVERY``
    updates; 1 keeps it constant)."""

    cap: int = setting(POSITIVE_INT)
    patience: int = setting(POSITIVE_INT)
    tolerance: float = setting(POSITIVE)
    floor: float = setting(POSITIVE)
    lrs: list[float] = setting(POSITIVE_LIST)
    inits: list[str] = setting(subset("a non-empty list among " + ", ".join(INITS), INITS, distinct=True))
    batch_size: int = setting(POSITIVE_INT)
    anneal: float = setting(ANNEAL, 1.0)
    condition_lrs: dict = setting(MAPPING, {})  # {condition: lrs} (each checked by Settings.checked)


BACKPROP_DEFAULTS = {"cap": 1000, "patience": 100, "tolerance": 0.02, "floor": 0.01, "lrs": [0.001, 0.003, 0.01]}


BACKPROP_DEFAULTS |= {"inits": list(INITS), "batch_size": 256, "anneal": 1.0, "condition_lrs": {}}


UNIT_FRACTION = number("a fraction in (0, 1]", lambda v: 0 < v <= 1)


@dataclass(frozen=True, kw_only=True)
class BayesianOptions:
    """The BCPNN hidden units (``rules.bayesian_hidden``, unsupervised on the stored images): K units in
    ``hypercolumns`` H of K/H each (every K a multiple of H; 1: one soft winner-take-all over all K, as the DAM's
    read), ``epochs`` passes in batches of ``batch_size`` stored images, traces moved at ``rate`` per batch, soft-WTA
    ``gain``, probability ``floor`` ε, the log-normal ``noise`` of p_ij's start, and the share of the pixels each
    hypercolumn sees (``connectivity``; 1: all)."""

    hypercolumns: int = setting(POSITIVE_INT)
    epochs: int = setting(POSITIVE_INT)
    batch_size: int = setting(POSITIVE_INT)
    rate: float = setting(OPEN_FRACTION)
    gain: float = setting(POSITIVE)
    floor: float = setting(OPEN_FRACTION)
    noise: float = setting(POSITIVE)
    connectivity: float = setting(UNIT_FRACTION)


BCPNN_DEFAULTS = {"hypercolumns": 1, "epochs": 20, "batch_size": 1024, "rate": 0.5, "gain": 1.0, "floor": 1e-4}
BCPNN_DEFAULTS |= {"noise": 0.1, "connectivity": 1.0}


@dataclass(frozen=True, kw_only=True)
class ModularOptions:
    """The recurrent BCPNN memory of the images' modular code (``memory.sparse.BCPNN``): probability ``floor`` ε of
    its estimates and the ``gain`` of each pixel's soft winner-take-all."""

    floor: float = setting(OPEN_FRACTION, 1e-4)
    gain: float = setting(POSITIVE, 1.0)


def _option_kind(values: dict) -> tuple[str, tuple[type, ...]]:
    """The option schemas of an arm: convergence's for backprop, epochs / batch for the trained rules (shared with
    the capacity ladder, hebbdam.experiments.arms), none for the one-shot writes."""
    rule = values["rule"]
    schemas = {BACKPROP: (ConvergedOptions,), BCPNN_HIDDEN: (BayesianOptions,), BCPNN_REGISTRY: (ModularOptions,)}
    return f"rule '{rule}'", schemas.get(rule, (WrittenOptions,) if rule in TRAINED else ())


CONDITION_NAMES = Check(
    "a non-empty list of condition names",
    lambda v: isinstance(v, list) and bool(v) and all(isinstance(x, str) for x in v),
    list,
)


RATIOS_BEYOND = Check(
    "a list of numbers in (0, ∞) (empty or null: the grid of ratios only)",
    lambda v: v is None or v == [] or POSITIVE_LIST.accepts(v),
    lambda v: [float(x) for x in v or []],
)


@dataclass(frozen=True, kw_only=True)
class Arm:
    """A rule and the K it fills. ``hyper``: the rule's hyper-parameters; ``options``: epochs / batch_size
    (prototype, krotov_hopfield), :class:`BayesianOptions` (bcpnn_hidden) or :class:`ConvergedOptions` (backprop);
    ``ratios_below``: more ratios of K in this arm's P grid. ``conditions``: the conditions it is
    measured under (backprop is trained once per condition and masking, through that recall; absent: all)."""

    name: str
    rule: str = setting(choice(*RULES, BACKPROP, BCPNN_HIDDEN))
    units: list[int] = setting(int_list(1), then=lambda v: sorted(set(v)))
    conditions: list[str] | None = setting(optional(CONDITION_NAMES), None)
    hyper: dict = setting(MAPPING, {})
    options: dict = options_of(_option_kind)
    ratios_below: list[float] = setting(RATIOS_BEYOND, [], then=lambda v: sorted(set(v)))  # more P = ratio·K for
    # this arm only (a cheap one-shot arm whose P_0.9 lies below the section's grid: measured there, not censored)

    def checked(self, section: Params) -> Arm:
        if self.rule == BACKPROP:
            return replace(self, options={**BACKPROP_DEFAULTS, **self.options})
        if self.rule == BCPNN_HIDDEN:
            options = {**BCPNN_DEFAULTS, **self.options}
            if any(units % options["hypercolumns"] for units in self.units):
                expected = f"a list of multiples of options.hypercolumns = {options['hypercolumns']}"
                raise ConfigError(section.key("units"), expected, self.units)
            return replace(self, options=options)
        checked_rule(section, self.rule, self.rule_hyper(1), None)
        return self

    @property
    def locality(self) -> str:
        if self.rule == BACKPROP:
            return "nonlocal"
        return rule_info(BCPNN_REGISTRY if self.rule == BCPNN_HIDDEN else self.rule).locality

    @property
    def budget(self) -> str:
        """ "pairwise": a (D, D) memory with no hidden units (its K only anchors the P grid), compared at no equal
        K; "units": K hidden units of D parameters each."""
        return "pairwise" if self.rule in PAIRWISE else "units"

    @property
    def measured(self) -> list[str]:
        """The conditions it is measured under (every condition of the section once :meth:`Settings.checked` ran)."""
        if self.conditions is None:
            raise ValueError(f"arm {self.name}: its conditions are filled by Settings.checked")
        return self.conditions

    def lrs_for(self, condition: str) -> list[float]:
        """The lrs backprop sweeps under ``condition``: its own (``condition_lrs``), else the arm's ``lrs``."""
        return [float(lr) for lr in self.options["condition_lrs"].get(condition, self.options["lrs"])]

    def rule_hyper(self, units: int) -> dict:
        return {**self.hyper, "units": units} if self.rule in TRAINED else dict(self.hyper)

    def parameters(self, units: int, dim: int) -> int:
        """Parameters of the filled memory: K·D (tied keys = values; the BCPNN units' conditional-mean images);
        keyed slots (pseudo-inverse) add the K² couplings (ΞΞᵀ)⁺ that turn the slots into their keys; a pairwise memory
        holds its kind's count at its code's width whatever its K (Willshaw: D² synapses; BCPNN on the modular code:
        (2D)² weights and 2D biases)."""
        if self.rule in PAIRWISE:
            return KIND_PARAMETERS[self.rule](code_width(self.rule, dim), 0)
        return units * dim + (units * units if is_keyed(self.rule) else 0)


def code_width(rule: str, dim: int) -> int:
    """The units of the code a pairwise rule stores D-pixel images in: 2D for a modular code, else D."""
    return 2 * dim if rule in MODULAR else dim


@dataclass(frozen=True, kw_only=True)
class Settings:
    seed: int = setting(NONNEG_INT)
    dataset: str = setting(STRING)
    data_root: str
    binarize_threshold: float
    ratios: list[float] = setting(POSITIVE_LIST, then=lambda v: sorted(set(v)))
    ratios_beyond: list[float] = setting(RATIOS_BEYOND, [], then=lambda v: sorted(set(v)))
    held_out: int = setting(POSITIVE_INT)
    steps: int = setting(POSITIVE_INT)
    seeds: int = setting(POSITIVE_INT)
    masking: list[str] = setting(subset("a non-empty list among " + ", ".join(MASKING), list(MASKING), distinct=True))
    bootstrap: int = setting(POSITIVE_INT)
    conditions: list[Condition] = setting(Named(Condition, "at least one condition"))
    arms: list[Arm] = setting(Named(Arm, "at least one arm"))
    trainer: dict
    device: Any = None  # the torch.device it runs on, given by the experiment's parse_settings

    def checked(self, section: Params) -> Settings:
        """Each arm's conditions name conditions of the section (an arm without its own list takes them all), and a
        backprop arm's ``condition_lrs`` name conditions of the section (one a profile does not measure is unused), each
        with a list of positive lrs."""
        names = [c.name for c in self.conditions]
        arms = []
        for arm in self.arms:
            wanted = names if arm.conditions is None else arm.conditions
            if any(name not in names for name in wanted):
                key = section.key(f"arms.{arm.name}.conditions")
                raise ConfigError(key, "a non-empty list among " + ", ".join(names), wanted)
            for name, lrs in arm.options.get("condition_lrs", {}).items():
                if name not in names or not POSITIVE_LIST.accepts(lrs):
                    key = section.key(f"arms.{arm.name}.options.condition_lrs.{name}")
                    raise ConfigError(key, f"a condition among {', '.join(names)}: {POSITIVE_LIST.expected}", lrs)
            if arm.rule in PAIRWISE and any(self.version_of(name) != "binary" for name in wanted):
                binary = [c.name for c in self.conditions if c.version == "binary"]
                key = section.key(f"arms.{arm.name}.conditions")
                raise ConfigError(
                    key, "binary conditions only (a pairwise 0/1 memory): among " + ", ".join(binary), wanted
                )
            arms.append(replace(arm, conditions=list(wanted)))
        return replace(self, arms=arms)

    def version_of(self, condition: str) -> str:
        return next(c.version for c in self.conditions if c.name == condition)


def parse_settings(params: Params, section_name: str = "budget.images", **given: Any) -> Settings:
    """The section (and data.root, data.binarize_threshold) read into :class:`Settings` before any computation."""
    return parse(
        Settings,
        params.section(section_name),
        data_root=data_root(params),
        binarize_threshold=binarize_threshold(params),
        trainer=trainer_options(params),
        **given,
    )


# the DVC stage this experiment runs (hebbdam.stages collects every settings module's STAGES)
STAGES: tuple[Stage, ...] = (
    Stage(
        name="budget_images",
        entry="hebbdam.experiments.budget_images:main",
        help="E8b: real images stored in a K-unit memory per learning rule, stored-set P_0.9 against K, both maskings",
        params=("budget.images", "data.root", "data.binarize_threshold"),
        records=("budget_images.json",),
        curves=("budget_images_curves.json",),
        figures=("budget_images",),
        plots=(
            Plot(
                "budget_images",
                "E8b: fraction of stored images recovered from half-masked queries against P",
                "budget_images_curves.json",
                x="P",
                y="stored",
                facet=("arm", "condition"),
            ),
        ),
        reads_data=True,
        position=100,
    ),
)
