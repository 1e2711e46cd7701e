"""The settings of ``hebbdam.experiments.capacity``, moved here from it so that composing imports no torch
(:mod:`hebbdam.settings`); the experiment's ``parse_settings`` builds their rules and separations."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..config import ConfigError, Params
from ..schema import (
    FRACTION,
    NONNEG_INT,
    POSITIVE_INT,
    POSITIVE_LIST,
    Check,
    Named,
    choice,
    int_list,
    number,
    parse,
    setting,
)
from ..stage_spec import Plot, Stage
from .arms import (
    FeatureOptions,
    GradientOptions,
    RuleOf,
    WrittenOptions,
    options_of,
)
from .catalogue import is_pairwise
from .common import (
    SEPARATION,
    trainer_options,
)

MODELS = ("hopfield", "dense", "tensor4", "random_features", "backprop")


# models written without a registry rule, and the registry kind their write is read as: DrDAM's own additive write (its
# Ω from the trial's generator), and a pairwise W trained by gradient descent (lit.backprop.PairwiseWeights, exported as
# a hopfield memory); every other model is a memory kind of the registry, filled by a rule it accepts
DIRECT_WRITES = {"random_features": "random_features", "backprop": "hopfield"}


DYNAMICS = ("async", "sync", "one-step")


def _rule_written(values: dict) -> bool:
    return values["model"] not in DIRECT_WRITES


# a Hopfield arm's neuron threshold θ: a number, or "covariance" for the published θ = -a(1 - a²) at the arm's bias a
COVARIANCE_THRESHOLD = "covariance"


@dataclass(frozen=True, kw_only=True)
class ThresholdOptions:
    threshold: float | str = setting(
        Check(
            f"'{COVARIANCE_THRESHOLD}' or a finite number",
            lambda v: (
                v == COVARIANCE_THRESHOLD
                or (isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v))
            ),
        )
    )


# the option schemas each model takes (hebbdam.experiments.arms; shared with the budget stage)
OPTIONS = {
    "random_features": (FeatureOptions,),
    "backprop": (GradientOptions,),
    **{model: (WrittenOptions,) for model in MODELS if model not in DIRECT_WRITES},
    "hopfield": (WrittenOptions, ThresholdOptions),
}


@dataclass(frozen=True, kw_only=True)
class Arm:
    """One curve family of the ladder: a model, how it is written, its dynamics, and its (D, α) grid.

    ``rule`` is the Hebbian/non-local rule for hopfield, dense and tensor4 arms (written through Lightning);
    random_features arms are an additive feature write (DrDAM) and backprop arms a pairwise W trained by gradient
    descent on a denoising loss (``options``: features/beta, or updates/lr/steps/batch_size).
    ``bias``: P(ξ = +1) = (1 + bias)/2.
    """

    name: str
    model: str = setting(choice(*MODELS))
    dynamics: str = setting(choice(*DYNAMICS))
    dims: list[int] = setting(int_list(2))
    loads: list[float] = setting(POSITIVE_LIST, then=sorted)
    rule: Any = setting(RuleOf("model"), when=_rule_written)  # a RuleSpec here, its Rule once built
    separation: Any = setting(SEPARATION, when=lambda v: v["model"] == "dense")  # SeparationSchema, then Separation
    bias: float = setting(number("a pattern bias in (-1, 1)", lambda v: -1 < v < 1), 0.0)
    options: dict = options_of(lambda v: (f"model '{v['model']}'", OPTIONS[v["model"]]))

    def checked(self, section: Params) -> Arm:
        if self.model == "random_features" and self.dynamics == "async":
            raise ConfigError(
                section.key("dynamics"), "sync or one-step for a continuous random-feature memory", self.dynamics
            )
        check_fits_in_memory(section, self.kind, self.dims, self.loads)
        return self

    @property
    def kind(self) -> str:
        """The memory-registry kind of this arm's memory (a backprop arm's trained W is a hopfield memory)."""
        return DIRECT_WRITES.get(self.model, self.model)

    @property
    def mirror(self) -> bool:
        """The separation also attracts the mirror -ξ (even plain powers): score |overlap|."""
        return self.separation is not None and self.separation.attracts_mirror

    @property
    def rule_name(self) -> str:
        return self.rule.name if self.rule is not None else self.model

    @property
    def locality(self) -> str:
        if self.rule is not None:
            return self.rule.locality
        return "local" if self.model == "random_features" else "nonlocal"


ARM_NAMES = Check(
    "a list (possibly empty) of arm names",
    lambda v: v is None or (isinstance(v, list) and all(isinstance(x, str) for x in v)),
    lambda v: list(v or []),
)


@dataclass(frozen=True, kw_only=True)
class Settings:
    seed: int = setting(NONNEG_INT)
    trials: int = setting(POSITIVE_INT)
    flip_fraction: float = setting(FRACTION)
    max_sweeps: int = setting(POSITIVE_INT)
    retrieval_overlap: float = setting(number("a number in (0, 1]", lambda v: 0 < v <= 1))
    arms: list[Arm] = setting(Named(Arm, "at least one arm"))
    # arms whose critical load α_c(D) is extrapolated to D → ∞ (experiments.capacity.finite_size); each needs ≥ 3 D
    finite_size: list[str] = setting(ARM_NAMES, [])
    # exponents ν of the forms α_∞ + c·D^(-ν) fitted there; the first is the row's measured value, the verdict needs
    # every form to agree (experiments.capacity.finite_size)
    finite_size_exponents: list[float] = setting(POSITIVE_LIST, [0.5], then=lambda v: list(dict.fromkeys(v)))
    trainer: dict = field(default_factory=dict)
    device: Any = None  # the torch.device recall runs on, given by the experiment's parse_settings

    def checked(self, section: Params) -> Settings:
        arms = {arm.name: arm for arm in self.arms}
        for name in self.finite_size:
            if name not in arms or len(arms[name].dims) < 3:
                raise ConfigError(
                    section.key("finite_size"),
                    "names of arms with at least 3 dims: " + ", ".join(arms),
                    self.finite_size,
                )
        return self


def check_fits_in_memory(section: Params, kind: str, dims: list[int], loads: list[float]) -> None:
    """Refuse, before allocating, a grid whose largest point needs more than half of this machine's memory: a memory
    of registry kind ``kind`` holds D² numbers when it is pairwise, else one row per stored pattern."""
    import psutil

    dim, patterns = max(dims), math.ceil(max(loads) * max(dims))
    weights = 8 * dim * dim if is_pairwise(kind) else 8 * patterns * dim  # float64 W or memories
    needed = 3 * weights + 4 * patterns * dim  # the write, the fields of a sweep and the patterns
    available = psutil.virtual_memory().total
    if needed > available / 2:
        raise ConfigError(
            section.key("dims"),
            f"a grid that fits in memory: D = {dim} at load {max(loads)} needs about {needed / 2**30:.1f} GiB, "
            f"more than half of this machine's {available / 2**30:.1f} GiB",
            dims,
        )


def parse_settings(params: Params, section_name: str = "capacity", **given: Any) -> Settings:
    """The section (``capacity`` or ``ladder.<family>``) read into :class:`Settings`, checked whole before any work."""
    return parse(Settings, params.section(section_name), trainer=trainer_options(params), **given)


# the DVC stage this experiment runs (hebbdam.stages collects every settings module's STAGES)
STAGES: tuple[Stage, ...] = (
    Stage(
        name="capacity",
        entry="hebbdam.experiments.capacity:main",
        help="E1 slice: Hebbian Hopfield vs polynomial DAM capacity",
        params=("capacity",),
        records=("capacity.json",),
        curves=("capacity_curves.json",),
        figures=("capacity",),
        plots=(
            Plot(
                "capacity_retrieval",
                "Capacity: fraction retrieved (overlap ≥ 0.95) against load, per arm and D",
                "capacity_curves.json",
                x="load",
                y="retrieved",
                facet=("arm",),
            ),
        ),
        position=10,
    ),
    Stage(
        name="ladder",
        entry="hebbdam.experiments.capacity:ladder_main",
        help="E1 ladder: one family of rules × models",
        params=("ladder.${item}",),
        records=("ladder_${item}.json",),
        curves=("ladder_${item}_curves.json",),
        figures=("ladder",),
        plots=tuple(
            Plot(
                f"ladder_{family}",
                f"Ladder, {family}: fraction retrieved against load",
                f"ladder_{family}_curves.json",
                "load",
                "retrieved",
                facet=("arm",),
            )
            for family in ("pairwise", "dense", "backprop")
        ),
        foreach=("pairwise", "dense", "backprop"),
        position=20,
    ),
)
