"""The settings of ``hebbdam.experiments.classification``, moved here from it so that composing imports no torch
(:mod:`hebbdam.settings`); the experiment's ``parse_settings`` builds their rules and separations."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ..config import Params
from ..schema import (
    NONNEG_INT,
    POSITIVE,
    POSITIVE_INT,
    STRING,
    Named,
    Section,
    int_list,
    parse,
    setting,
)
from ..stage_spec import Plot, Stage
from .common import (
    ANNEAL,
    LEARNING_RATE,
    MOMENTUM,
    OPEN_FRACTION,
    KrotovHopfield2016Arm,
    KrotovHopfieldRule,
    data_root,
    trainer_options,
)


@dataclass(frozen=True, kw_only=True)
class BackpropTraining:
    """K&H 2016 end to end (normalised momentum, annealed lr) for each of its arms."""

    epochs: int = setting(POSITIVE_INT)
    batch_size: int = setting(POSITIVE_INT)
    lr: float = setting(LEARNING_RATE)
    anneal: float = setting(ANNEAL)
    momentum: float = setting(MOMENTUM)
    arms: list[KrotovHopfield2016Arm] = setting(Named(KrotovHopfield2016Arm, "at least one backprop arm"))


@dataclass(frozen=True, kw_only=True)
class Readout:
    """K&H 2019 top layer on hidden activities: activation power, SGD (β, m, lr), delta-rule lr, epochs, batch."""

    power: float = setting(POSITIVE)
    beta: float = setting(POSITIVE)
    m: int = setting(POSITIVE_INT)
    sgd_lr: float = setting(POSITIVE)
    delta_lr: float = setting(POSITIVE)
    epochs: int = setting(POSITIVE_INT)
    batch_size: int = setting(POSITIVE_INT)


@dataclass(frozen=True, kw_only=True)
class HiddenLayer(KrotovHopfieldRule):
    """The K&H 2019 layer: the rule's hyper-parameters, its epochs and the readouts trained on it."""

    epochs: int = setting(POSITIVE_INT)
    readout: Readout = setting(Section(Readout))


@dataclass(frozen=True, kw_only=True)
class Settings:
    seed: int = setting(NONNEG_INT)
    dataset: str = setting(STRING)
    data_root: str
    memories: int = setting(POSITIVE_INT)
    memory_grid: list[int] = setting(int_list(1))
    seeds: int = setting(POSITIVE_INT)
    validation_fraction: float = setting(OPEN_FRACTION)
    readout_powers: list[int] = setting(
        int_list(2, "a non-empty list of integer powers ≥ 2"), then=lambda v: sorted(set(v))
    )
    backprop: BackpropTraining = setting(Section(BackpropTraining))
    krotov_hopfield: HiddenLayer = setting(Section(HiddenLayer))
    trainer: dict
    device: Any = None  # the torch.device it runs on, given by the experiment's parse_settings

    def checked(self, section: Params) -> Settings:
        """The grid of K always holds ``memories``."""
        return replace(self, memory_grid=sorted(set(self.memory_grid) | {self.memories}))


def parse_settings(params: Params, **given: Any) -> Settings:
    """The ``classification`` section (and data.root) read into :class:`Settings`, checked whole before any work."""
    return parse(
        Settings,
        params.section("classification"),
        data_root=data_root(params),
        trainer=trainer_options(params),
        **given,
    )


# the DVC stage this experiment runs (hebbdam.stages collects every settings module's STAGES)
STAGES: tuple[Stage, ...] = (
    Stage(
        name="classification",
        entry="hebbdam.experiments.classification:main",
        help="E5: K&H 2016 dense classifier, four memory arms",
        params=("classification", "data.root"),
        records=("classification.json",),
        curves=("classification_curves.json", "classification_votes.json"),
        figures=("classification",),
        plots=(
            Plot(
                "classification",
                "Classification test error against the number of memories",
                "classification_curves.json",
                x="memories",
                y="test_error",
                facet=("arm", "seed"),
            ),
        ),
        reads_data=True,
        position=70,
    ),
)
