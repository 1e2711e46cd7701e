"""E8c: where backprop helps in classification, at the same number K of hidden units.

Three classifiers per K and seed, all with K hidden units on the same images:
1. ``delta_readout``: a frozen K&H 2019 layer (rule ``krotov_hopfield``, no labels, pixels in [0, 1]) with a readout
   V (C, K) written by the local delta rule (rule ``delta_readout``) — local end to end;
2. ``top_layer``: the same frozen layer with K&H 2019's supervised top layer c = tanh(β V h), loss Σ|c - t|^m,
   trained by backprop (Adam) — local features, backprop readout;
3. ``backprop``: the Krotov & Hopfield 2016 dense-memory classifier trained end to end by backprop (K memories, pixels
   in [-1, 1]), one network per (n, T) arm and learning rate. Each fit runs until its training loss reaches a plateau
   (``lit.backprop.Plateau`` per epoch: the epoch losses over the last ``patience`` epochs within a relative
   ``tolerance``) or ``cap`` epochs, and records the epochs it used, ``converged`` (False when the cap came first) and
   ``stalled`` (the epoch losses flat at the first epoch's: the optimiser never moved it; not converged either;
   ``backprop_stalled`` counts the kept fits that stalled). At the first seed of each K every (n, T) arm × ``lrs`` is
   trained and the lowest validation error is kept; when its lr is the smallest or largest tried, one more lr past that
   edge (same factor, at most twice; ``lrs_tried`` and ``lr_at_edge`` recorded). The other seeds train that arm and lr.
   Independent fits run in parallel processes (``parallel.map_fits``). A K where any kept fit did not converge is
   flagged.
4. ``bcpnn_delta_readout`` / ``bcpnn_top_layer``: the readouts of (1) and (2) on a BCPNN hidden layer of the same K
   units instead (Bayesian-Hebbian, local, no labels; Ravichandran, Lansner & Herman 2020, the simplest variant: no
   structural plasticity: each hidden hypercolumn sees a fixed random ``connectivity`` share of the pixels): each
   pixel x a hypercolumn of two units (x, 1 − x), the K hidden
   units in H = K/M hypercolumns of M; per batch the hidden activity is the soft winner-take-all of each hypercolumn,
   y = softmax_M(gain·(b + x̃W)), and the probability traces move towards the batch means at ``rate``,
   p_i ← p_i + α(⟨x̃_i⟩ − p_i), p_j ← p_j + α(⟨y_j⟩ − p_j), p_ij ← p_ij + α(⟨x̃_i y_j⟩ − p_ij); the weights are
   w_ij = log(p_ij/(p_i p_j)) and the biases b_j = log p_j (ε floor). The readouts see y.
Hidden activity of the frozen layer: h = ReLU(⟨W_μ, v⟩_p)^power (K&H 2019 eq. 10), divided by its largest value on
the training set. The gap (2) − (3) of test errors against K says whether backprop's advantage is a small-budget
effect. Validation: the source's own split where it has one (mnist5k), else the last ``validation_fraction`` of
the training rows.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

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
from ..rules.bayesian_hidden import Bayesian, learn_bayesian_layer
from ..rules.hidden import hidden_activity
from ..settings import budget_classify as schema
from ..settings.budget_classify import Settings
from ..settings.common import KrotovHopfield2016Arm
from .common import (
    Curves,
    built,
    extended_sweep,
    generator_for,
    run_stage,
    select,
)

ARMS = ("delta_readout", "top_layer", "backprop", "bcpnn_delta_readout", "bcpnn_top_layer")
BCPNN = "bcpnn_"  # the prefix of the readouts on the BCPNN layer


def parse_settings(params: Params, section_name: str = "budget.classify") -> Settings:
    """The settings of :mod:`hebbdam.settings.budget_classify`, checked whole before any work, with their rules and
    separations built; every K must fill whole BCPNN hypercolumns."""
    settings = built(schema.parse_settings(params, section_name))
    columns = settings.bcpnn.minicolumns
    if any(units % columns for units in settings.units):
        raise ConfigError(f"{section_name}.bcpnn.minicolumns", f"a divisor of every K {settings.units}", columns)
    return settings


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


def bcpnn_layer(units: int, train: Split, seed: int, settings: Settings) -> Bayesian:
    """K BCPNN hidden units learned from the training pixels (module docstring, arm 4), seeded by (seed, "bcpnn")."""
    return learn_bayesian_layer(train.images, units, settings.bcpnn, settings.batch_size, generator_for(seed, "bcpnn"))


def readouts(weights: Tensor, splits: tuple[Split, Split, Split], classes: int, seed: int, settings: Settings) -> dict:
    """Test and validation errors of the delta-rule readout (1) and the backprop top layer (2) on frozen K&H units."""
    activity = [hidden_activity(weights, s.images, settings.hidden.p, settings.hidden.power) for s in splits]
    return trained_readouts(activity, splits, classes, seed, settings)


def trained_readouts(
    activity: list[Tensor], splits: tuple[Split, Split, Split], classes: int, seed: int, settings: Settings
) -> dict:
    """Test and validation errors of the delta-rule readout and the backprop top layer on frozen hidden activity
    (N, K) of the train, validation and test splits."""
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
    arm: KrotovHopfield2016Arm,
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
        "stalled": fitted["stalled"],
        "train_loss": round(float(fitted["loss"]), 6),
        "val_error": error_rate(memories, val.images, val.labels, arm.n, classes),
        "test_error": error_rate(memories, test.images, test.labels, arm.n, classes),
    }


@dataclass(frozen=True)
class NetworkFit:
    """One independent K&H 2016 fit (picklable: it runs in a worker process of ``parallel.map_fits``)."""

    arm: KrotovHopfield2016Arm
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
    keys = ("arm", "lr", "epochs", "converged", "stalled", "val_error")
    return {**tried[index], "tried": [{key: t[key] for key in keys} for t in tried], **edge}


# the experiment ---------------------------------------------------------------------------------------------------
T_975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}  # Student t


def _mean_std(values: list[float]) -> dict:
    """Mean, standard deviation over seeds and the 95% Student-t interval of the mean (``low``, ``high``; 1.96
    beyond 10 seeds; the mean itself with one seed)."""
    t = torch.tensor(values, dtype=torch.float64)
    std = float(t.std()) if len(values) > 1 else 0.0
    half = T_975.get(len(values) - 1, 1.96) * std / len(values) ** 0.5
    mean = float(t.mean())
    return {"mean": round(mean, 6), "std": round(std, 6), "low": round(mean - half, 6), "high": round(mean + half, 6)}


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
            bayesian = bcpnn_layer(units, train, seed, settings)
            activity = [bayesian.activity(s.images) for s in splits]
            for name, errors in trained_readouts(activity, splits, classes, seed, settings).items():
                results[BCPNN + name] = errors
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
            "backprop_stalled": sum(t["stalled"] for t in training),
            "backprop_training": training,
            "gap_top_layer_minus_backprop": _mean_std(gap),
            "gap_delta_readout_minus_backprop": _mean_std(local_gap),
            "gap_bcpnn_minus_kh2019_top_layer": _mean_std(
                [b - t for b, t in zip(per_arm["bcpnn_top_layer"], per_arm["top_layer"], strict=True)]
            ),
        }
        entry = record[f"K{units}"]
        say(
            f"budget classify K={units}: test error delta readout {entry['delta_readout']['mean']}, "
            f"top layer {entry['top_layer']['mean']}, backprop {entry['backprop']['mean']}, "
            f"BCPNN delta readout {entry['bcpnn_delta_readout']['mean']}, "
            f"BCPNN top layer {entry['bcpnn_top_layer']['mean']} "
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
