"""The settings of ``hebbdam.experiments.continual``, kept apart from it so that composing imports no torch
(:mod:`hebbdam.settings`); the experiment's ``parse_settings`` builds their separations."""

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
    STRING,
    Named,
    Section,
    choice,
    integer,
    number,
    optional,
    parse,
    setting,
)
from ..stage_spec import Plot, Stage
from .arms import checked_rule
from .catalogue import rule_info
from .common import SEPARATION, trainer_options

KINDS = ("hopfield", "dense")  # the registry kinds this stage fills
BACKPROP = "backprop"  # the rule name of the arms trained by gradient descent (BackpropModule, not a registry rule)
LAYOUTS = ("split", "permuted")
# how a backprop arm protects the earlier tasks (lit.continual; pseudo: experiments.continual.pseudo_items)
PLAIN, AGEM, GEM, EWC, PSEUDO = "plain", "agem", "gem", "ewc", "pseudo"
METHODS = (PLAIN, AGEM, GEM, EWC, PSEUDO)
EPISODIC = (AGEM, GEM)  # the methods whose buffer is an episodic memory, never trained on
NONNEG = number("a number in [0, ∞)", lambda v: 0 <= v < float("inf"))
BOOTSTRAP_SAMPLES = 500
INIT_STD = 0.1  # the start of a backprop memory Ξ: N(0, INIT_STD²), as E8a's random start


@dataclass(frozen=True, kw_only=True)
class Training:
    """One task's backprop fit: Adam at ``lr`` in batches of ``batch_size`` rows, ``steps`` unrolled recall steps of
    gain ``gain`` from ``flip`` of the bits flipped (the section's ``flip``), until the plateau (``window`` updates,
    relative ``tolerance`` or within ``noise`` standard errors of the per-update losses, ``confirm`` flat readings in
    a row, or the loss at most ``floor``; the first ``restarts`` flat readings above the floor restart Adam instead
    of stopping) or ``cap`` updates; an epoch repeats the rows to hold at least ``epoch_updates`` batches (the plateau
    is read per epoch)."""

    lr: float = setting(POSITIVE)
    batch_size: int = setting(POSITIVE_INT)
    steps: int = setting(POSITIVE_INT)
    gain: float = setting(POSITIVE)
    cap: int = setting(POSITIVE_INT)
    window: int = setting(POSITIVE_INT)
    tolerance: float = setting(POSITIVE)
    floor: float = setting(POSITIVE)
    epoch_updates: int = setting(POSITIVE_INT)
    noise: float = setting(NONNEG, 0.0)
    confirm: int = setting(POSITIVE_INT, 1)
    restarts: int = setting(NONNEG_INT, 0)


@dataclass(frozen=True, kw_only=True)
class Arm:
    """A memory kind filled task after task by a registry rule (``hyper`` its hyper-parameters) or by backprop;
    ``slots`` K of a dense memory; ``separation`` its F; backprop only: ``method`` ``plain`` (``rehearsal`` R: the
    first R patterns of each earlier task replayed beside the task's), ``agem`` (those R per earlier task are A-GEM's
    episodic memory, never trained on), ``gem`` (those R of each earlier task are that task's episodic memory, one
    constraint each), ``ewc`` (elastic weight consolidation of strength ``strength``) or ``pseudo``
    (pseudorehearsal: R pseudo-items per earlier task, the attractors the memory itself reaches from random states,
    replayed beside the task's; no stored pattern is kept); ``lr`` its own Adam learning rate (the ``training``
    section's where unset)."""

    name: str
    memory: str = setting(choice(*KINDS))
    rule: str = setting(STRING)
    hyper: dict = setting(MAPPING, {})
    slots: int | None = setting(optional(POSITIVE_INT), None)
    separation: Any = setting(SEPARATION, when=lambda v: v["memory"] == "dense")  # SeparationSchema, then Separation
    rehearsal: int = setting(NONNEG_INT, 0)
    method: str = setting(choice(*METHODS), PLAIN)
    strength: float = setting(NONNEG, 0.0)
    lr: float | None = setting(optional(POSITIVE), None)

    def checked(self, section: Params) -> Arm:
        """A dense memory needs K slots; only backprop replays or protects; A-GEM and GEM need an episodic memory
        (R ≥ 1), EWC a strength > 0 and no replay; a registry rule must write the memory kind."""
        if self.memory == "dense" and self.slots is None:
            raise ConfigError(section.key("slots"), "K slots (a positive integer) for a dense memory", None)
        if self.rule == BACKPROP:
            if self.memory != "dense":
                raise ConfigError(section.key("memory"), f"dense for rule {BACKPROP}", self.memory)
            if self.method in EPISODIC and not self.rehearsal:
                raise ConfigError(section.key("rehearsal"), f"≥ 1 (the episodic memory of method {self.method})", 0)
            if self.method == PSEUDO and not self.rehearsal:
                raise ConfigError(section.key("rehearsal"), f"≥ 1 (the pseudo-items per task of method {PSEUDO})", 0)
            if self.method == EWC and not self.strength > 0:
                raise ConfigError(section.key("strength"), f"a number > 0 for method {EWC}", self.strength)
            if self.method == EWC and self.rehearsal:
                raise ConfigError(section.key("rehearsal"), f"0 for method {EWC} (no replay)", self.rehearsal)
            if self.method != EWC and self.strength:
                raise ConfigError(section.key("strength"), f"0 (only method {EWC} has a strength)", self.strength)
            return self
        if self.method != PLAIN or self.strength:
            raise ConfigError(
                section.key("method"), f"{PLAIN} for an incremental rule (methods: {BACKPROP})", self.method
            )
        if self.rehearsal:
            raise ConfigError(section.key("rehearsal"), f"0 for an incremental rule (rehearsal: {BACKPROP})", 0)
        if self.lr is not None:
            raise ConfigError(section.key("lr"), f"no lr for an incremental rule (lr: {BACKPROP})", self.lr)
        checked_rule(section, self.rule, self.hyper, self.memory, f"{BACKPROP} or one of")
        return self

    @property
    def locality(self) -> str:
        return "nonlocal" if self.rule == BACKPROP else rule_info(self.rule).locality


@dataclass(frozen=True, kw_only=True)
class Settings:
    seed: int = setting(NONNEG_INT)
    seeds: int = setting(integer("an integer ≥ 2 (the intervals are over seeds)", lambda v: v >= 2))
    dim: int = setting(POSITIVE_INT)
    tasks: int = setting(integer("an integer ≥ 2", lambda v: v >= 2))
    per_task: int = setting(POSITIVE_INT)
    layout: str = setting(choice(*LAYOUTS))
    flip: float = setting(FRACTION)
    max_sweeps: int = setting(POSITIVE_INT)
    training: Training = setting(Section(Training))
    arms: list[Arm] = setting(Named(Arm, "at least one arm"))
    trainer: dict = field(default_factory=dict)

    def checked(self, section: Params) -> Settings:
        """A replay buffer holds at most a whole task."""
        for arm in self.arms:
            if arm.rehearsal > self.per_task:
                key = section.key(f"arms.{arm.name}.rehearsal")
                raise ConfigError(key, f"at most per_task = {self.per_task} patterns", arm.rehearsal)
        return self


def parse_settings(params: Params, **given: Any) -> Settings:
    """The ``continual`` section read into :class:`Settings`, checked whole before any computation starts."""
    return parse(Settings, params.section("continual"), trainer=trainer_options(params), **given)


# the DVC stage this experiment runs (hebbdam.stages collects every settings module's STAGES)
STAGES: tuple[Stage, ...] = (
    Stage(
        name="continual",
        entry="hebbdam.experiments.continual:main",
        help="E7: tasks learned one after another, backprop DAM with and without rehearsal against Hebbian rules",
        params=("continual",),
        records=("continual.json",),
        curves=("continual_curves.json",),
        figures=("continual",),
        plots=(
            Plot(
                "continual",
                "E7: recall of each task against the number of tasks learned, per arm",
                "continual_curves.json",
                x="after",
                y="recall",
                facet=("arm",),
            ),
        ),
        position=120,
    ),
)
