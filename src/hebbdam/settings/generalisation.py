"""The settings of ``hebbdam.experiments.generalisation``, moved here from it so that composing imports no torch
(:mod:`hebbdam.settings`); the experiment's ``parse_settings`` builds their rules and separations."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from ..config import ConfigError, Params
from ..schema import (
    NONNEG_INT,
    POSITIVE,
    POSITIVE_INT,
    POSITIVE_LIST,
    STRING,
    Section,
    int_list,
    integer,
    parse,
    setting,
    subset,
)
from ..stage_spec import DATA_PARAMS, Plot, Stage
from .common import (
    binarize_threshold,
    data_root,
    trainer_options,
)

ARMS = ("optimal", "hebbian", "backprop")


@dataclass(frozen=True, kw_only=True)
class Backprop:
    slots: int = setting(POSITIVE_INT)  # rows of the trained memory, fixed for every K
    steps: int = setting(POSITIVE_INT)
    batch: int = setting(POSITIVE_INT)
    lr: float = setting(POSITIVE)


@dataclass(frozen=True, kw_only=True)
class Settings:
    seed: int = setting(NONNEG_INT)
    dataset: str = setting(STRING)
    data_root: str
    binarize_threshold: float
    train_sizes: list[int] = setting(int_list(1), then=lambda v: sorted(set(v)))
    arm_sizes: list[int] = setting(int_list(1), then=lambda v: sorted(set(v)))  # K of the hebbian / backprop arms
    samples: int = setting(integer("an integer ≥ 2 (spurious states are shared by samples)", lambda v: v >= 2))
    # the σ_min sweep and the hebbian / backprop arms use the first ``sweep_samples`` of the same noise
    sweep_samples: int = setting(integer("an integer ≥ 2 (spurious states are shared by samples)", lambda v: v >= 2))
    attractor_tolerance: float = setting(POSITIVE)  # × NN: a sample one recall step moves less is at an attractor
    arms: list[str] = setting(
        subset("a non-empty list among " + ", ".join(ARMS), ARMS), then=lambda v: [*dict.fromkeys(v)]
    )
    sigma_max: float = setting(POSITIVE)
    sigma_min: float = setting(POSITIVE)  # × median nearest-neighbour distance
    sigma_min_sweep: list[float] = setting(POSITIVE_LIST)  # × median nearest-neighbour distance, the optimal arm only
    steps: int = setting(POSITIVE_INT)
    delta_memorised: float = setting(POSITIVE)  # × median nearest-neighbour distance
    delta_spurious: float = setting(POSITIVE)
    max_sweeps: int = setting(POSITIVE_INT)
    backprop: Backprop = setting(Section(Backprop))
    device: Any = None  # the torch.device it runs on, given by the experiment's parse_settings
    trainer: dict = field(default_factory=dict)  # the trainer section (the backprop arm trains through Lightning)

    def checked(self, section: Params) -> Settings:
        """The σ_min sweep always holds ``sigma_min``; the sweep's samples are a prefix of the headline's."""
        if not set(self.arm_sizes) <= set(self.train_sizes):
            raise ConfigError(section.key("arm_sizes"), "a subset of train_sizes", self.arm_sizes)
        if self.sweep_samples > self.samples:
            raise ConfigError(section.key("sweep_samples"), f"at most samples ({self.samples})", self.sweep_samples)
        return replace(self, sigma_min_sweep=sorted(set(self.sigma_min_sweep) | {self.sigma_min}))


def parse_settings(params: Params, **given: Any) -> Settings:
    """The ``generalisation`` section (and the data keys it reads) read into :class:`Settings` before any work."""
    return parse(
        Settings,
        params.section("generalisation"),
        data_root=data_root(params),
        binarize_threshold=binarize_threshold(params),
        trainer=trainer_options(params),
        **given,
    )


# the DVC stage this experiment runs (hebbdam.stages collects every settings module's STAGES)
STAGES: tuple[Stage, ...] = (
    Stage(
        name="generalisation",
        entry="hebbdam.experiments.generalisation:main",
        help="E6: memorised/spurious/generalised against K",
        params=("generalisation", *DATA_PARAMS),
        records=("generalisation.json",),
        curves=("generalisation_curves.json",),
        figures=("generalisation",),
        plots=tuple(
            Plot(f"generalisation_{kind}", f"Fraction {kind} against K", "generalisation_curves.json", "K", kind)
            for kind in ("memorised", "spurious", "generalised")
        ),
        reads_data=True,
        position=60,
    ),
)
