"""The settings of ``hebbdam.experiments.sparse``, moved here from it so that composing imports no torch
(:mod:`hebbdam.settings`); the experiment's ``parse_settings`` builds their rules and separations."""

from __future__ import annotations

from dataclasses import dataclass, field
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
    Section,
    choice,
    int_list,
    number,
    number_list,
    optional,
    parse,
    setting,
)
from ..stage_spec import Plot, Stage
from .arms import checked_rule
from .catalogue import rule_info
from .common import trainer_options

KINDS = ("willshaw", "threshold", "projection", "bcpnn", "hopfield")  # the registry kinds this stage reads


OPTIONS = {"bcpnn": ("floor", "gain")}  # read-out options per kind (BCPNN: the ε floor, the soft-WTA gain)


BACKPROP = "backprop"  # the rule name of the arm trained by gradient descent (lit.backprop.BackpropModule): nonlocal
BACKPROP_MEMORY = "projection"  # the kind it trains: a pairwise W read with θ = ½|c|/(f·D)
# a backprop arm's options: the lr sweep, the cap of updates, the plateau rule (window, tolerance, floor), the
# rows per batch, the updates per plateau check, the surrogate's gain, and the load of the sweep (bits per synapse)
BACKPROP_INTS = ("updates", "window", "batch_size", "epoch_updates")
BACKPROP_NUMBERS = ("tolerance", "floor", "gain", "sweep_load")


CODINGS = number_list("a non-empty list of coding levels in (0, 1)", lambda v: 0.0 < v < 1.0)


@dataclass(frozen=True, kw_only=True)
class Arm:
    """A registry rule (``rule``, ``hyper``) written into a registry memory kind (``memory``) in ``epochs`` passes
    over the patterns; ``options``: the kind's read-out options (BCPNN: ``gain``, ``floor``); ``sweeps``: 1 reads in
    one synchronous step, more relaxes by synchronous steps until nothing changes, at most ``sweeps``; ``loads``: the
    arm's own grid (bits per synapse), else the section's (a backprop arm's fits cost seconds each)."""

    name: str
    memory: str = setting(choice(*KINDS))
    rule: str = setting(STRING)
    hyper: dict = setting(MAPPING, {})
    options: dict = setting(MAPPING, {})
    epochs: int = setting(POSITIVE_INT, 1)
    sweeps: int = setting(POSITIVE_INT, 1)
    loads: list[float] | None = setting(optional(POSITIVE_LIST), None, then=lambda v: None if v is None else sorted(v))

    def checked(self, section: Params) -> Arm:
        """The rule must write the memory kind; ``options`` are the kind's read-out options, positive numbers (a
        backprop arm: a ``projection`` memory, its options :data:`BACKPROP_INTS`, :data:`BACKPROP_NUMBERS` and
        ``lrs``, a non-empty list of positive learning rates)."""
        if self.rule == BACKPROP:
            return self.checked_backprop(section)
        allowed = OPTIONS.get(self.memory, ())
        for key, value in self.options.items():
            if key not in allowed:
                raise ConfigError(section.key(f"options.{key}"), f"an option of memory {self.memory} {allowed}", key)
            if not POSITIVE.accepts(value):
                raise ConfigError(section.key(f"options.{key}"), POSITIVE.expected, value)
        checked_rule(section, self.rule, self.writer_hyper(0.1), self.memory)
        return self

    def checked_backprop(self, section: Params) -> Arm:
        if self.memory != BACKPROP_MEMORY:
            raise ConfigError(section.key("memory"), f"{BACKPROP_MEMORY} for rule {BACKPROP}", self.memory)
        if self.hyper:
            raise ConfigError(section.key("hyper"), f"no hyper for rule {BACKPROP} (use options)", self.hyper)
        for key, value in self.options.items():
            where = section.key(f"options.{key}")
            if key == "lrs":
                if not isinstance(value, list) or not value or not all(POSITIVE.accepts(v) for v in value):
                    raise ConfigError(where, "a non-empty list of positive learning rates", value)
            elif key in BACKPROP_INTS:
                if not POSITIVE_INT.accepts(value):
                    raise ConfigError(where, POSITIVE_INT.expected, value)
            elif key in BACKPROP_NUMBERS:
                if not POSITIVE.accepts(value):
                    raise ConfigError(where, POSITIVE.expected, value)
            else:
                allowed = ("lrs", *BACKPROP_INTS, *BACKPROP_NUMBERS)
                raise ConfigError(where, f"an option of rule {BACKPROP} {allowed}", key)
        return self

    @property
    def lrs(self) -> list[float]:
        """The learning rates a backprop arm sweeps, ascending."""
        return sorted(float(v) for v in self.options.get("lrs", [0.01]))

    def writer_hyper(self, coding: float) -> dict:
        """The hyper-parameters of the rule at coding level f (the covariance rule's mean is f)."""
        extra = {"mean": coding} if self.rule == "covariance" else {}
        return {**self.hyper, **extra}

    @property
    def locality(self) -> str:
        """The rule's label in the catalogue; backprop (gradients through the whole recall) is nonlocal."""
        return "nonlocal" if self.rule == BACKPROP else rule_info(self.rule).locality


@dataclass(frozen=True, kw_only=True)
class Holography:
    """The holographic memory's capacity law: ``dims`` D, ``items`` N in the clean-up memory, ``loads`` the grid of
    K/D, ``trials`` independent traces."""

    dims: list[int] = setting(int_list(8))
    items: int = setting(POSITIVE_INT)
    loads: list[float] = setting(POSITIVE_LIST, then=sorted)
    trials: int = setting(POSITIVE_INT)


@dataclass(frozen=True, kw_only=True)
class Settings:
    seed: int = setting(NONNEG_INT)
    trials: int = setting(POSITIVE_INT)
    dim: int = setting(POSITIVE_INT)
    codings: list[float] = setting(CODINGS)
    removed: float = setting(FRACTION)
    added: float = setting(number("a number ≥ 0", lambda v: v >= 0.0), 0.0)
    loads: list[float] = setting(POSITIVE_LIST, then=sorted)
    arms: list[Arm] = setting(Named(Arm, "at least one arm"))
    holographic: Holography = setting(Section(Holography))
    trainer: dict = field(default_factory=dict)  # the ``trainer`` section (a backprop arm's Lightning fits)
    device: Any = None  # the torch.device it runs on, given by the experiment's parse_settings


def parse_settings(params: Params, **given: Any) -> Settings:
    """The ``sparse`` section read into :class:`Settings`, checked whole before any computation starts."""
    return parse(Settings, params.section("sparse"), trainer=trainer_options(params), **given)


# the DVC stage this experiment runs (hebbdam.stages collects every settings module's STAGES)
STAGES: tuple[Stage, ...] = (
    Stage(
        name="sparse",
        entry="hebbdam.experiments.sparse:main",
        help="sparse codes: bits per synapse against coding level (Willshaw, covariance, BCPNN); holographic law",
        params=("sparse",),
        records=("sparse.json",),
        curves=("sparse_curves.json",),
        figures=("sparse",),
        plots=(
            Plot(
                "sparse",
                "Sparse codes: fraction of the P patterns recalled exactly against P, per rule and coding level",
                "sparse_curves.json",
                x="patterns",
                y="exact",
                facet=("arm",),
            ),
        ),
        position=110,
    ),
)
