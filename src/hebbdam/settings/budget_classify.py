"""The settings of ``hebbdam.experiments.budget_classify``, moved here from it so that composing imports no torch
(:mod:`hebbdam.settings`); the experiment's ``parse_settings`` builds their rules and separations."""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..config import Params
from ..schema import (
    NONNEG_INT,
    POSITIVE,
    POSITIVE_INT,
    STRING,
    Named,
    Section,
    int_list,
    number_list,
    parse,
    setting,
)
from ..stage_spec import Plot, Stage
from .common import (
    ANNEAL,
    MOMENTUM,
    OPEN_FRACTION,
    KrotovHopfield2016Arm,
    KrotovHopfieldRule,
    data_root,
    trainer_options,
)

_RATES = number_list("a list of learning rates > 0", lambda v: v > 0)
LEARNING_RATES = replace(
    _RATES,
    expected="a list of at least 3 learning rates > 0 (the sweep)",
    accepts=lambda v: _RATES.accepts(v) and len(v) >= 3,
)


@dataclass(frozen=True, kw_only=True)
class HiddenLayer(KrotovHopfieldRule):
    """The frozen K&H 2019 layer: the rule's hyper-parameters, its epochs and the activation power of h."""

    epochs: int = setting(POSITIVE_INT)
    power: float = setting(POSITIVE)


@dataclass(frozen=True, kw_only=True)
class BayesianLayer:
    """The BCPNN hidden layer (Ravichandran, Lansner & Herman 2020, without structural plasticity): K = H·M units in H
    hypercolumns of ``minicolumns`` M (every K a multiple of M), each hypercolumn connected to a fixed random
    ``connectivity`` share of the pixels, probability traces updated at ``rate`` per batch over
    ``epochs`` passes, soft winner-take-all ``gain``, probability ``floor`` ε, and the ``noise`` of the traces' start
    (log-normal on p_ij, which breaks the symmetry between hidden units)."""

    minicolumns: int = setting(POSITIVE_INT)
    epochs: int = setting(POSITIVE_INT)
    rate: float = setting(OPEN_FRACTION)
    gain: float = setting(POSITIVE)
    floor: float = setting(OPEN_FRACTION)
    noise: float = setting(POSITIVE)
    connectivity: float = setting(OPEN_FRACTION)  # the share of the pixels each hidden hypercolumn is connected to


@dataclass(frozen=True, kw_only=True)
class DeltaReadout:
    epochs: int = setting(POSITIVE_INT)
    lr: float = setting(POSITIVE)


@dataclass(frozen=True, kw_only=True)
class TopLayerTraining:
    """K&H 2019's supervised top layer (Adam): epochs, lr, β, loss power 2m."""

    epochs: int = setting(POSITIVE_INT)
    lr: float = setting(POSITIVE)
    beta: float = setting(POSITIVE)
    m: int = setting(POSITIVE_INT)


@dataclass(frozen=True, kw_only=True)
class NetworkTraining:
    """K&H 2016 end to end (normalised momentum, annealed lr) for each of its arms and learning rates, each fit to the
    plateau of its training loss (``patience`` epochs within a relative ``tolerance``) or ``cap`` epochs."""

    cap: int = setting(POSITIVE_INT)
    patience: int = setting(POSITIVE_INT)
    tolerance: float = setting(POSITIVE)
    lrs: list[float] = setting(LEARNING_RATES)
    anneal: float = setting(ANNEAL)
    momentum: float = setting(MOMENTUM)
    arms: list[KrotovHopfield2016Arm] = setting(Named(KrotovHopfield2016Arm, "at least one (n, temperature, m) arm"))


@dataclass(frozen=True, kw_only=True)
class Settings:
    seed: int = setting(NONNEG_INT)
    dataset: str = setting(STRING)
    data_root: str
    units: list[int] = setting(int_list(1), then=lambda v: sorted(set(v)))
    seeds: int = setting(POSITIVE_INT)
    validation_fraction: float = setting(OPEN_FRACTION)
    hidden: HiddenLayer = setting(Section(HiddenLayer))
    bcpnn: BayesianLayer = setting(Section(BayesianLayer))
    batch_size: int = setting(POSITIVE_INT)
    delta_readout: DeltaReadout = setting(Section(DeltaReadout))
    top_layer: TopLayerTraining = setting(Section(TopLayerTraining))
    backprop: NetworkTraining = setting(Section(NetworkTraining))
    trainer: dict


def parse_settings(params: Params, section_name: str = "budget.classify") -> Settings:
    """The section (and data.root) read into :class:`Settings`, checked whole before any computation starts."""
    return parse(Settings, params.section(section_name), data_root=data_root(params), trainer=trainer_options(params))


# the DVC stage this experiment runs (hebbdam.stages collects every settings module's STAGES)
STAGES: tuple[Stage, ...] = (
    Stage(
        name="budget_classify",
        entry="hebbdam.experiments.budget_classify:main",
        help="E8c: frozen K&H 2019 layer with a local or SGD readout against K&H 2016 backprop, same K",
        params=("budget.classify", "data.root"),
        records=("budget_classify.json",),
        curves=("budget_classify_curves.json",),
        figures=("budget_classify",),
        plots=(
            Plot(
                "budget_classify",
                "E8c: test error against K per classifier (one panel per classifier, a line per seed)",
                "budget_classify_curves.json",
                x="K",
                y="test_error",
                series="arm",
                facet=("arm",),
            ),
        ),
        reads_data=True,
        position=90,
    ),
)
