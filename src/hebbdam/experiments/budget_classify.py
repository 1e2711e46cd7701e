"""E8c: where backprop helps in classification, at the same number K of hidden units.

Three classifiers per K and seed, all with K hidden units on the same images:
1. ``delta_readout``: a frozen K&H 2019 layer (rule ``krotov_hopfield``, no labels, pixels in [0, 1]) with a readout
   V (C, K) written by the local delta rule (rule ``delta_readout``) — local end to end;
2. ``top_layer``: the same frozen layer with K&H 2019's supervised top layer c = tanh(β V h), loss Σ|c - t|^m,
   trained by backprop (Adam) — local features, backprop readout;
3. ``backprop``: the Krotov & Hopfield 2016 dense-memory classifier trained end to end by backprop (K memories,
   pixels in [-1, 1]), one network per (n, T) arm; the arm with the lowest validation error is the one reported.
Hidden activity of the frozen layer: h = ReLU(⟨W_μ, v⟩_p)^power (K&H 2019 eq. 10), divided by its largest value on
the training set. The gap (2) − (3) of test errors against K says whether backprop's advantage is a small-budget
effect. Validation: the source's own split where it has one (mnist5k), else the last ``validation_fraction`` of
the training rows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import Tensor

from ..config import ConfigError, Params
from ..data.prepare import load_processed
from ..lit import PatternDataModule, fit, store
from ..lit.backprop import BackpropModule, KrotovHopfield2016, Readout, TopLayer, classifier_memory, error_rate
from ..logs import say
from ..rules import get_rule
from ..rules.hidden import hidden_activity
from .common import Curves, generator_for, run_stage, select, trainer_options

ARMS = ("delta_readout", "top_layer", "backprop")


@dataclass(frozen=True)
class NetworkArm:
    """One K&H 2016 network: power n, temperature T (β = 1/Tⁿ), loss power 2m."""

    name: str
    n: int
    temperature: float
    m: int


@dataclass(frozen=True)
class Settings:
    seed: int
    dataset: str
    data_root: str
    units: list[int]
    seeds: int
    validation_fraction: float
    hidden: dict  # krotov_hopfield hyper-parameters (p, rank, anti, lr)
    hidden_epochs: int
    hidden_power: float
    batch_size: int
    delta: dict  # epochs, lr
    top: dict  # epochs, lr, beta, m
    network: dict  # epochs, lr, anneal, momentum
    arms: list[NetworkArm]
    trainer: dict


def parse_settings(params: Params, section_name: str = "budget.classify") -> Settings:
    """Validate the whole section (and data.root) before any computation starts."""
    section = params.section(section_name)
    hidden = section.section("hidden")
    delta = section.section("delta_readout")
    top = section.section("top_layer")
    network = section.section("backprop")
    arms_section = network.section("arms")
    arms = [
        NetworkArm(
            name=str(name),
            n=arms_section.section(name).positive_int("n"),
            temperature=arms_section.section(name).number("temperature", lambda v: v > 0, "a temperature > 0"),
            m=arms_section.section(name).positive_int("m"),
        )
        for name, _ in arms_section.items()
    ]
    if not arms:
        raise ConfigError(network.key("arms"), "at least one (n, temperature, m) arm")
    rule = {
        "p": hidden.number("p", lambda v: v >= 2, "a Lebesgue power ≥ 2"),
        "rank": hidden.positive_int("rank"),
        "anti": hidden.number("anti", lambda v: v >= 0, "a number ≥ 0"),
        "lr": hidden.number("lr", lambda v: v > 0, "a learning rate > 0"),
    }
    positive = (lambda v: v > 0, "a number > 0")
    return Settings(
        seed=section.nonneg_int("seed"),
        dataset=section.string("dataset"),
        data_root=params.section("data").string("root", "data"),
        units=sorted(set(section.int_list("units", minimum=1))),
        seeds=section.positive_int("seeds"),
        validation_fraction=section.number("validation_fraction", lambda v: 0 < v < 1, "a fraction in (0, 1)"),
        hidden=rule,
        hidden_epochs=hidden.positive_int("epochs"),
        hidden_power=hidden.number("power", *positive),
        batch_size=section.positive_int("batch_size"),
        delta={"epochs": delta.positive_int("epochs"), "lr": delta.number("lr", *positive)},
        top={
            "epochs": top.positive_int("epochs"),
            "lr": top.number("lr", *positive),
            "beta": top.number("beta", *positive),
            "m": top.positive_int("m"),
        },
        network={
            "epochs": network.positive_int("epochs"),
            "lr": network.number("lr", *positive),
            "anneal": network.number("anneal", lambda v: 0 < v <= 1, "a factor in (0, 1]"),
            "momentum": network.number("momentum", lambda v: 0 <= v < 1, "a momentum in [0, 1)"),
        },
        arms=arms,
        trainer=trainer_options(params),
    )


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
    rule = get_rule("krotov_hopfield", units=units, **settings.hidden)
    epochs = settings.hidden_epochs
    return store(train.images, rule, settings.trainer, settings.batch_size, seed, max_epochs=epochs).stored.cpu()


def readouts(weights: Tensor, splits: tuple[Split, Split, Split], classes: int, seed: int, settings: Settings) -> dict:
    """Test and validation errors of the delta-rule readout (1) and the backprop top layer (2) on frozen units."""
    activity = [hidden_activity(weights, s.images, settings.hidden["p"], settings.hidden_power) for s in splits]
    scale = activity[0].max().clamp_min(1e-30)
    train_h, val_h, test_h = (a / scale for a in activity)
    train = splits[0]

    rows = torch.cat([train_h, signed_targets(train.labels, classes)], 1)
    rule = get_rule("delta_readout", classes=classes, lr=settings.delta["lr"])
    epochs = settings.delta["epochs"]
    delta = store(rows, rule, settings.trainer, settings.batch_size, seed, max_epochs=epochs).stored.cpu()  # (C, K)

    module = BackpropModule(
        Readout(train_h.shape[1], classes),
        TopLayer(beta=settings.top["beta"], m=settings.top["m"]),
        lr=settings.top["lr"],
        seed=seed,
    )
    data = PatternDataModule(train_h, settings.batch_size, labels=train.labels, shuffle=True, seed=seed)
    fit(module, data, settings.trainer, max_epochs=settings.top["epochs"])
    top = module.memory.weights.detach().cpu()
    return {
        name: {
            "val_error": errors_of(val_h @ weights_.T, splits[1].labels),
            "test_error": errors_of(test_h @ weights_.T, splits[2].labels),
        }
        for name, weights_ in (("delta_readout", delta), ("top_layer", top))
    }


def network(units: int, splits: tuple[Split, Split, Split], classes: int, seed: int, settings: Settings) -> dict:
    """The K&H 2016 classifier trained end to end at every (n, T) arm; the arm with the lowest validation error."""
    train, val, test = (Split(2 * s.images - 1, s.labels) for s in splits)
    tried = []
    for arm in settings.arms:
        module = BackpropModule(
            classifier_memory(train.images.shape[1], classes, units, arm.n, seed),
            KrotovHopfield2016(classes, arm.n, arm.temperature, arm.m),
            lr=settings.network["lr"],
            optimizer="normalised",
            momentum=settings.network["momentum"],
            anneal=settings.network["anneal"],
            seed=seed,
        )
        data = PatternDataModule(train.images, settings.batch_size, labels=train.labels, shuffle=True, seed=seed)
        fit(module, data, settings.trainer, max_epochs=settings.network["epochs"])
        memories = module.memory.memories.detach().cpu()
        tried.append(
            {
                "arm": arm.name,
                "n": arm.n,
                "val_error": error_rate(memories, val.images, val.labels, arm.n, classes),
                "test_error": error_rate(memories, test.images, test.labels, arm.n, classes),
            }
        )
    best = min(tried, key=lambda t: (t["val_error"], t["arm"]))
    return {**best, "tried": tried}


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
        chosen = []
        for seed_index in range(settings.seeds):
            seed = int(torch.randint(2**31 - 1, (1,), generator=generator_for(settings.seed, units, seed_index)))
            results = readouts(frozen_layer(units, train, seed, settings), splits, classes, seed, settings)
            results["backprop"] = network(units, splits, classes, seed, settings)
            chosen.append(results["backprop"]["arm"])
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
            "gap_top_layer_minus_backprop": _mean_std(gap),
            "gap_delta_readout_minus_backprop": _mean_std(local_gap),
        }
        say(
            f"budget classify K={units}: test error delta readout {record[f'K{units}']['delta_readout']['mean']}, "
            f"top layer {record[f'K{units}']['top_layer']['mean']}, backprop {record[f'K{units}']['backprop']['mean']} "
            f"(chosen {', '.join(chosen)}) ({time.perf_counter() - start:.1f} s)"
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
