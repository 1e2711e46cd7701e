"""E8c: where backprop helps in classification, at the same number K of hidden units.

Three classifiers per K and seed, all with K hidden units on the same images:
1. ``delta_readout``: a frozen K&H 2019 layer (rule ``krotov_hopfield``, no labels, pixels in [0, 1]) with a readout
   V (C, K) written by the local delta rule (rule ``delta_readout``) — local end to end;
2. ``top_layer``: the same frozen layer with K&H 2019's supervised top layer c = tanh(β V h), loss Σ|c - t|^m,
   trained by backprop (Adam) — local features, backprop readout;
3. ``backprop``: the Krotov & Hopfield 2016 dense-memory classifier trained end to end by backprop (K memories,
   pixels in [-1, 1]), one network per (n, T) arm and learning rate. Each fit runs until its training loss reaches a
   plateau (``lit.backprop.Plateau`` per epoch: the epoch losses over the last ``patience`` epochs within a relative
   ``tolerance``) or ``cap`` epochs, and records the epochs it used and ``converged`` (False when the cap came
   first). At the first seed of each K every (n, T) arm × ``lrs`` is trained and the lowest validation error is
   kept; when its lr is the smallest or largest tried, one more lr past that edge (same factor, at most twice;
   ``lrs_tried`` and ``lr_at_edge`` recorded). The other seeds train that arm and lr. Independent fits run in
   parallel processes (``parallel.map_fits``). A K where any kept fit did not converge is flagged.
Hidden activity of the frozen layer: h = ReLU(⟨W_μ, v⟩_p)^power (K&H 2019 eq. 10), divided by its largest value on
the training set. The gap (2) − (3) of test errors against K says whether backprop's advantage is a small-budget
effect. Validation: the source's own split where it has one (mnist5k), else the last ``validation_fraction`` of
the training rows.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import torch
from torch import Tensor

from ..config import ConfigError, Params
from ..data.prepare import load_processed
from ..lit import PatternDataModule, fit, store
from ..lit.backprop import (
    BackpropModule,
    KrotovHopfield2016,
    Readout,
    TopLayer,
    classifier_memory,
    error_rate,
    fit_until_plateau,
)
from ..logs import say
from ..parallel import map_fits
from ..rules import get_rule
from ..rules.hidden import hidden_activity
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
from .common import (
    ANNEAL,
    MOMENTUM,
    OPEN_FRACTION,
    TEMPERATURE,
    Curves,
    KrotovHopfieldRule,
    data_root,
    extended_sweep,
    generator_for,
    run_stage,
    select,
    trainer_options,
)

ARMS = ("delta_readout", "top_layer", "backprop")
_RATES = number_list("a list of learning rates > 0", lambda v: v > 0)
LEARNING_RATES = replace(_RATES, expected="a list of at least 3 learning rates > 0 (the sweep)")
LEARNING_RATES = replace(LEARNING_RATES, accepts=lambda v: _RATES.accepts(v) and len(v) >= 3)


@dataclass(frozen=True, kw_only=True)
class NetworkArm:
    """One K&H 2016 network: power n, temperature T (β = 1/Tⁿ), loss power 2m."""

    name: str
    n: int = setting(POSITIVE_INT)
    temperature: float = setting(TEMPERATURE)
    m: int = setting(POSITIVE_INT)


@dataclass(frozen=True, kw_only=True)
class HiddenLayer(KrotovHopfieldRule):
    """The frozen K&H 2019 layer: the rule's hyper-parameters, its epochs and the activation power of h."""

    epochs: int = setting(POSITIVE_INT)
    power: float = setting(POSITIVE)


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
    arms: list[NetworkArm] = setting(Named(NetworkArm, "at least one (n, temperature, m) arm"))


@dataclass(frozen=True, kw_only=True)
class Settings:
    seed: int = setting(NONNEG_INT)
    dataset: str = setting(STRING)
    data_root: str
    units: list[int] = setting(int_list(1), then=lambda v: sorted(set(v)))
    seeds: int = setting(POSITIVE_INT)
    validation_fraction: float = setting(OPEN_FRACTION)
    hidden: HiddenLayer = setting(Section(HiddenLayer))
    batch_size: int = setting(POSITIVE_INT)
    delta_readout: DeltaReadout = setting(Section(DeltaReadout))
    top_layer: TopLayerTraining = setting(Section(TopLayerTraining))
    backprop: NetworkTraining = setting(Section(NetworkTraining))
    trainer: dict


def parse_settings(params: Params, section_name: str = "budget.classify") -> Settings:
    """The section (and data.root) read into :class:`Settings`, checked whole before any computation starts."""
    return parse(Settings, params.section(section_name), data_root=data_root(params), trainer=trainer_options(params))


@dataclass(frozen=True)
class Split:
    images: Tensor  # (N, D) in [0, 1]
    labels: Tensor  # (N,)


def load_splits(settings: Settings) -> tuple[Split, Split, Split, int]:
    """(train, validation, test, classes) of the prepared source."""
    data = load_processed(settings.dataset, settings.data_root)
    train = Split(data["x_train"].float(), data["y_train"].long())
    if "x_val" in data:
        val = Split(data["x_val"].float(), data["y_val"].long())
    else:
        keep = train.images.shape[0] - max(1, round(settings.validation_fraction * train.images.shape[0]))
        train, val = Split(train.images[:keep], train.labels[:keep]), Split(train.images[keep:], train.labels[keep:])
    test = Split(data["x_test"].float(), data["y_test"].long())
    classes = int(torch.cat([train.labels, test.labels]).max()) + 1
    largest = max(settings.units)
    if largest > train.images.shape[0]:
        raise ConfigError("budget.classify.units", f"at most {train.images.shape[0]} (the training images)", largest)
    return train, val, test, classes


def signed_targets(labels: Tensor, classes: int) -> Tensor:
    """(N,) → (N, C): +1 at the label, -1 elsewhere."""
    target = -torch.ones(labels.shape[0], classes)
    target.scatter_(1, labels[:, None], 1.0)
    return target


def errors_of(scores: Tensor, labels: Tensor) -> float:
    return float((scores.argmax(-1) != labels).double().mean())


# the three classifiers --------------------------------------------------------------------------------------------
def frozen_layer(units: int, train: Split, seed: int, settings: Settings) -> Tensor:
    """K&H 2019 hidden units (K, D) learned from the training pixels without labels, through HebbianModule."""
    rule = get_rule("krotov_hopfield", units=units, **settings.hidden.hyper)
    epochs = settings.hidden.epochs
    return store(train.images, rule, settings.trainer, settings.batch_size, seed, max_epochs=epochs).stored.cpu()


def readouts(weights: Tensor, splits: tuple[Split, Split, Split], classes: int, seed: int, settings: Settings) -> dict:
    """Test and validation errors of the delta-rule readout (1) and the backprop top layer (2) on frozen units."""
    activity = [hidden_activity(weights, s.images, settings.hidden.p, settings.hidden.power) for s in splits]
    # one scale for every split: the RMS of the training activity norms (mean ‖h‖² = 1, as E5's readouts), so the delta
    # rule's lr is the LMS step relative to the input power (stable below 2); the largest activity as the scale left
    # ‖h‖ ≪ 1 at power 4.5 and the readouts barely moved
    scale = activity[0].pow(2).sum(1).mean().sqrt().clamp_min(1e-30)
    train_h, val_h, test_h = (a / scale for a in activity)
    train = splits[0]

    rows = torch.cat([train_h, signed_targets(train.labels, classes)], 1)
    rule = get_rule("delta_readout", classes=classes, lr=settings.delta_readout.lr)
    epochs = settings.delta_readout.epochs
    delta = store(rows, rule, settings.trainer, settings.batch_size, seed, max_epochs=epochs).stored.cpu()  # (C, K)

    module = BackpropModule(
        Readout(train_h.shape[1], classes),
        TopLayer(beta=settings.top_layer.beta, m=settings.top_layer.m),
        lr=settings.top_layer.lr,
        seed=seed,
    )
    data = PatternDataModule(train_h, settings.batch_size, labels=train.labels, shuffle=True, seed=seed)
    fit(module, data, settings.trainer, max_epochs=settings.top_layer.epochs)
    top = module.memory.weights.detach().cpu()
    return {
        name: {
            "val_error": errors_of(val_h @ weights_.T, splits[1].labels),
            "test_error": errors_of(test_h @ weights_.T, splits[2].labels),
        }
        for name, weights_ in (("delta_readout", delta), ("top_layer", top))
    }


def train_network(
    arm: NetworkArm,
    lr: float,
    units: int,
    data: tuple[Split, Split, Split],
    classes: int,
    seed: int,
    settings: Settings,
) -> dict:
    """One K&H 2016 network (arm, lr) fit to its plateau or the cap: its errors and convergence record."""
    train, val, test = data
    training = settings.backprop
    module = BackpropModule(
        classifier_memory(train.images.shape[1], classes, units, arm.n, seed),
        KrotovHopfield2016(classes, arm.n, arm.temperature, arm.m),
        lr=lr,
        optimizer="normalised",
        momentum=training.momentum,
        anneal=training.anneal,
        seed=seed,
    )
    per_epoch = math.ceil(train.images.shape[0] / settings.batch_size)
    fitted = fit_until_plateau(
        module,
        train.images,
        settings.batch_size,
        training.cap * per_epoch,
        training.patience * per_epoch,
        training.tolerance,
        settings.trainer,
        labels=train.labels,
    )
    memories = module.memory.memories.detach().cpu()
    return {
        "arm": arm.name,
        "n": arm.n,
        "lr": lr,
        "epochs": fitted["epochs"],
        "updates": fitted["updates"],
        "converged": fitted["converged"],
        "train_loss": round(float(fitted["loss"]), 6),
        "val_error": error_rate(memories, val.images, val.labels, arm.n, classes),
        "test_error": error_rate(memories, test.images, test.labels, arm.n, classes),
    }


@dataclass(frozen=True)
class NetworkFit:
    """One independent K&H 2016 fit (picklable: it runs in a worker process of ``parallel.map_fits``)."""

    arm: NetworkArm
    lr: float
    units: int
    data: tuple[Split, Split, Split]
    classes: int
    seed: int
    settings: Settings


def run_network(item: NetworkFit) -> dict:
    """:func:`train_network` of one item (``parallel.map_fits``'s function: module level, one torch thread)."""
    return train_network(item.arm, item.lr, item.units, item.data, item.classes, item.seed, item.settings)


def network(
    units: int, splits: tuple[Split, Split, Split], classes: int, seed: int, settings: Settings, chosen: dict | None
) -> dict:
    """The K&H 2016 classifier trained end to end: at every (n, T) arm × lr when nothing is ``chosen`` yet (in
    parallel; the lowest validation error kept, the tries listed), extended one lr past the sweep's edge while the
    chosen lr sits on it (``common.extended_sweep``, at the chosen arm, at most twice; ``lrs_tried`` and
    ``lr_at_edge`` recorded), else at the chosen arm and lr."""
    fit_split, val_split, test_split = (Split(2 * s.images - 1, s.labels) for s in splits)  # pixels in [-1, 1]
    data = (fit_split, val_split, test_split)
    arms = {arm.name: arm for arm in settings.backprop.arms}
    if chosen is not None:
        return train_network(arms[chosen["arm"]], chosen["lr"], units, data, classes, seed, settings)
    best_arm: dict[str, str] = {}  # the arm of the best fit so far (empty before the first sweep: every arm)

    def train(lrs: list[float]) -> list[dict]:
        wanted = [arms[best_arm["arm"]]] if best_arm else list(arms.values())
        return map_fits(
            run_network, [NetworkFit(a, lr, units, data, classes, seed, settings) for a in wanted for lr in lrs]
        )

    def best(tried: list[dict]) -> int:
        index = min(range(len(tried)), key=lambda i: (tried[i]["val_error"], tried[i]["arm"], tried[i]["lr"]))
        best_arm["arm"] = tried[index]["arm"]
        return index

    tried, index, edge = extended_sweep(list(settings.backprop.lrs), train, best, lambda t: t["lr"])
    keys = ("arm", "lr", "epochs", "converged", "val_error")
    return {**tried[index], "tried": [{key: t[key] for key in keys} for t in tried], **edge}


# the experiment ---------------------------------------------------------------------------------------------------
def _mean_std(values: list[float]) -> dict:
    t = torch.tensor(values, dtype=torch.float64)
    std = float(t.std()) if len(values) > 1 else 0.0
    return {"mean": round(float(t.mean()), 6), "std": round(std, 6)}


def run(settings: Settings) -> tuple[dict, list[dict]]:
    """Every K and seed: (record per K, curve points per (K, seed, arm))."""
    train, val, test, classes = load_splits(settings)
    splits = (train, val, test)
    record: dict = {}
    points: list[dict] = []
    for units in settings.units:
        start = time.perf_counter()
        per_arm: dict[str, list[float]] = {arm: [] for arm in ARMS}
        chosen: list[str] = []
        training: list[dict] = []
        for seed_index in range(settings.seeds):
            seed = int(torch.randint(2**31 - 1, (1,), generator=generator_for(settings.seed, units, seed_index)))
            results = readouts(frozen_layer(units, train, seed, settings), splits, classes, seed, settings)
            results["backprop"] = network(units, splits, classes, seed, settings, training[0] if training else None)
            chosen.append(results["backprop"]["arm"])
            training.append({"seed": seed_index, **{k: v for k, v in results["backprop"].items() if k != "test_error"}})
            for arm in ARMS:
                per_arm[arm].append(results[arm]["test_error"])
                point = {"K": units, "seed": seed_index, "arm": arm, "test_error": round(results[arm]["test_error"], 6)}
                points.append({**point, "val_error": round(results[arm]["val_error"], 6)})
        gap = [t - b for t, b in zip(per_arm["top_layer"], per_arm["backprop"], strict=True)]
        local_gap = [d - b for d, b in zip(per_arm["delta_readout"], per_arm["backprop"], strict=True)]
        record[f"K{units}"] = {
            "K": units,
            **{arm: _mean_std(per_arm[arm]) for arm in ARMS},
            "backprop_chosen": chosen,
            "backprop_converged": all(t["converged"] for t in training),
            "backprop_training": training,
            "gap_top_layer_minus_backprop": _mean_std(gap),
            "gap_delta_readout_minus_backprop": _mean_std(local_gap),
        }
        say(
            f"budget classify K={units}: test error delta readout {record[f'K{units}']['delta_readout']['mean']}, "
            f"top layer {record[f'K{units}']['top_layer']['mean']}, backprop {record[f'K{units}']['backprop']['mean']} "
            f"(chosen {', '.join(chosen)}, lr {training[0]['lr']}, epochs {[t['epochs'] for t in training]}, converged "
            f"{record[f'K{units}']['backprop_converged']}) ({time.perf_counter() - start:.1f} s)"
        )
    return record, points


def compute(settings: Settings, params: Params, tracker) -> dict[str, object]:
    """The record (DVC metrics) and the test errors per K, seed and arm (DVC plots)."""
    record, points = run(settings)
    full = {
        "dataset": settings.dataset,
        "seeds": settings.seeds,
        "units": record,
    }
    return {"budget_classify.json": full, "budget_classify_curves.json": points}


def main(args) -> None:
    """``hebbdam budget_classify``: E8c (params ``budget.classify``) → budget_classify.json and its curves."""
    run_stage(
        args,
        "budget.classify",
        parse_settings,
        compute,
        record_name="budget_classify",
        headline=lambda record: select(record, "units.*.*.mean"),
        curves=(Curves("budget_classify_curves.json", x="K", y=("test_error",), series=("arm", "seed")),),
    )
