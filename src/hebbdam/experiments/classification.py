"""E5: the Krotov & Hopfield 2016 dense-memory classifier, with memories from four sources.

Visible layer = image pixels in [-1, 1] followed by C class units. A memory ξ_μ (K of them) is a visible state: a
pixel part and a class part. One update of the class units reads
    c = tanh(β Σ_μ [F(ξ_μ·v⁺) - F(ξ_μ·v⁻)]),  F = ReLU(x)ⁿ,  β = 1/Tⁿ,
v± the image with class unit c at ±1 and the others at -1 (``KrotovHopfield2016.outputs``). Every arm is scored by
the same readout, so only the memories differ:

- ``backprop``: memories trained on the classifier loss Σ(c - t)^{2m} (``BackpropModule``, K&H 2016's normalised
  momentum, annealed learning rate), one arm per (n, T, m);
- ``one_shot``: K random training images, each with its one-hot ±1 label as the class part (a slot write);
- ``prototypes``: K/C per class: the class mean image (K = C) or k-means centroids of the class, with the label;
- ``krotov_hopfield``: K hidden units learned without labels by the K&H 2019 local rule (trained on pixels in
  [0, 1] as in that paper), each scaled to max |entry| = 1 so it is a visible state in [-1, 1]; its class part is the
  mean ±1 label of the training images for which it is the most driven unit (a winner-take-all Hebbian count; a
  unit that never wins gets class part 0 and votes for nothing).

Model selection uses a validation split, never the test split: the prepared ``x_val`` where the source has one
(mnist5k), else the first ``validation_fraction`` of the (seeded, shuffled) training split, which is then held out
of training. The n at which each fixed-memory arm is read is chosen on validation error; among the backprop arms
(each an (n, T), β = 1/Tⁿ) the one with the lowest validation error is the selected one. Test errors are reported
for every arm and for the selection.

The K&H 2019 arm also gets a trained readout, twice, on its hidden activities h = ReLU(⟨W_μ, v⟩_p)^``power`` (K&H
2019 eq. 10; scaled so that ‖h‖² is 1 on average over training): a local delta rule (LMS: ΔS = η (t - S h) hᵀ, each
synapse uses its pre- and post-synaptic terms only) and K&H 2019's top layer c = tanh(β S h) trained by SGD on
Σ|c - t|^m. Both are reported beside end-to-end backprop at the same K. Their power, rates, β and epochs were chosen
on the validation split (conf/experiment/classification.yaml says which values were tried).

The decision is the argmax over class units. tanh saturates at 1.0 in floating point, so the argmax is taken on its
argument Σ_μ [F(ξ_μ·v⁺) - F(ξ_μ·v⁻)] (:func:`class_field`, float64; tanh is increasing, so this is the same decision
wherever c is not tied); β only matters for training. Fixed memories are re-read at every n of ``readout_powers``.

Feature → prototype statistic, per memory: ``votes`` = the number of classes whose class unit the memory pushes on,
i.e. whose class-part entry exceeds ``VOTE_THRESHOLD`` = 0 (a memory with +1 there raises F(ξ·v⁺)); ``silent`` = no
class at all. ``image_similarity`` = the largest cosine between the memory's pixel part and any training image (1
for a stored image; prototypes sit near digits, features do not). Published (MNIST): features at n = 2, 3,
prototypes at n = 20, 30.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import Tensor

from ..config import ConfigError, Params
from ..data.prepare import load_processed
from ..dynamics import single_cpu_thread
from ..lit.backprop import BackpropModule, KrotovHopfield2016, classifier_memory, error_rate
from ..lit.data import PatternDataModule
from ..lit.trainer import fit
from ..logs import say
from ..rules import get_rule
from ..rules.hidden import hidden_activity, lms_fit, max_scaled, top_layer_fit
from ..settings import classification as schema
from ..settings.classification import Settings
from ..settings.common import KrotovHopfield2016Arm
from .common import (
    Curves,
    built,
    compute_device,
    generator_for,
    run_stage,
    select,
)

ARMS = ("backprop", "one_shot", "prototypes", "krotov_hopfield")
VOTE_THRESHOLD = 0.0  # a class-part entry above this pushes that class unit on: the memory votes for the class
KMEANS_ITERATIONS = 25  # most Lloyd iterations of the per-class k-means (prototypes with K/C > 1)
KMEANS_INITS = 4  # k-means++ restarts; the lowest inertia wins


# the readout: error_rate and class_field moved to lit/backprop.py (shared with E8) ---------------------------------


def parse_settings(params: Params) -> Settings:
    """The settings of :mod:`hebbdam.settings.classification`, checked whole before any work, with their rules and
    separations built and this machine's device."""
    return built(schema.parse_settings(params, device=compute_device(params)))


def one_hot(labels: Tensor, classes: int) -> Tensor:
    """(N,) → (N, C) targets, +1 at the label and -1 elsewhere (the class units' ±1 states)."""
    target = -torch.ones(labels.shape[0], classes)
    target.scatter_(1, labels[:, None], 1.0)
    return target


def vote_statistics(memories: Tensor, classes: int, train_images: Tensor) -> dict:
    """Feature → prototype statistics of a memory matrix (K, D + C) (see the module docstring)."""
    label = memories[:, -classes:].double()
    votes = (label > VOTE_THRESHOLD).sum(1)
    visible = torch.nn.functional.normalize(memories[:, :-classes].double(), dim=1)
    images = torch.nn.functional.normalize(train_images.double(), dim=1)
    similarity = (visible @ images.T).amax(1)
    return {
        "mean_votes": float(votes.double().mean()),
        "silent_fraction": float((votes == 0).double().mean()),
        "single_class_fraction": float((votes == 1).double().mean()),
        "image_similarity": float(similarity.mean()),
        "histogram": torch.bincount(votes, minlength=classes + 1).tolist(),
    }


# the memories of each arm -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Data:
    train_x: Tensor  # (N, D) in [-1, 1]
    train_y: Tensor
    test_x: Tensor
    test_y: Tensor
    val_x: Tensor
    val_y: Tensor
    train_raw: Tensor  # (N, D) in [0, 1], what the K&H 2019 rule learns from
    val_raw: Tensor
    test_raw: Tensor
    classes: int
    validation: str  # where the validation split comes from


def load_data(settings: Settings) -> Data:
    """Train / validation / test in [-1, 1] (and [0, 1]); validation = the prepared x_val, else held out of train."""
    data = load_processed(settings.dataset, settings.data_root)
    train_raw, train_y = data["x_train"].float(), data["y_train"].long()
    if "x_val" in data:
        val_raw, val_y, validation = data["x_val"].float(), data["y_val"].long(), "the prepared validation split"
    else:
        held = round(settings.validation_fraction * len(train_raw))
        val_raw, val_y = train_raw[:held], train_y[:held]
        train_raw, train_y = train_raw[held:], train_y[held:]
        validation = f"the first {held} training images, held out of training"
    test_raw = data["x_test"].float()
    classes = int(torch.cat([data["y_train"], data["y_test"]]).max()) + 1
    return Data(
        train_x=2 * train_raw - 1,
        train_y=train_y,
        test_x=2 * test_raw - 1,
        test_y=data["y_test"].long(),
        val_x=2 * val_raw - 1,
        val_y=val_y,
        train_raw=train_raw,
        val_raw=val_raw,
        test_raw=test_raw,
        classes=classes,
        validation=validation,
    )


def _int_seed(generator: torch.Generator) -> int:
    return int(torch.randint(2**31 - 1, (1,), generator=generator))


def backprop_memories(arm: KrotovHopfield2016Arm, count: int, data: Data, seed: int, settings: Settings) -> Tensor:
    """Train K memories on the K&H 2016 classifier loss; (K, D + C) on the CPU."""
    pixels = data.train_x.shape[1]
    module = BackpropModule(
        classifier_memory(pixels, data.classes, count, arm.n, seed),
        KrotovHopfield2016(data.classes, arm.n, arm.temperature, arm.m),
        lr=settings.backprop.lr,
        optimizer="normalised",
        momentum=settings.backprop.momentum,
        anneal=settings.backprop.anneal,
        seed=seed,
    )
    loader = PatternDataModule(data.train_x, settings.backprop.batch_size, labels=data.train_y, shuffle=True, seed=seed)
    fit(
        module,
        loader,
        settings.trainer,
        name=f"backprop_n{arm.n}/K{count}/seed{seed}",
        max_epochs=settings.backprop.epochs,
    )
    return module.memory.memories.detach().cpu().float()


def one_shot_memories(count: int, data: Data, generator: torch.Generator) -> Tensor:
    """K distinct random training images with their ±1 one-hot labels."""
    index = torch.randperm(data.train_x.shape[0], generator=generator)[:count]
    return torch.cat([data.train_x[index], one_hot(data.train_y[index], data.classes)], 1)


def kmeans(points: Tensor, count: int, generator: torch.Generator) -> Tensor:
    """``count`` Euclidean k-means centres (count, D) of ``points`` (N, D): scikit-learn's Lloyd k-means, k-means++
    starts, ``KMEANS_INITS`` restarts, seeded from ``generator`` (repeatable)."""
    from sklearn.cluster import KMeans

    seed = int(torch.randint(2**31 - 1, (1,), generator=generator))
    fitted = KMeans(count, init="k-means++", n_init=KMEANS_INITS, max_iter=KMEANS_ITERATIONS, random_state=seed)
    fitted.fit(points.double().numpy())
    return torch.from_numpy(fitted.cluster_centers_).to(points.dtype)


def prototype_memories(count: int, data: Data, generator: torch.Generator) -> Tensor:
    """⌈K/C⌉ prototypes per class (the class mean when one) with the class's ±1 label; (C·⌈K/C⌉, D + C)."""
    per_class = max(1, -(-count // data.classes))
    rows = []
    for c in range(data.classes):
        images = data.train_x[data.train_y == c]
        centres = images.mean(0, keepdim=True) if per_class == 1 else kmeans(images, per_class, generator)
        rows.append(torch.cat([centres, one_hot(torch.full((centres.shape[0],), c), data.classes)], 1))
    return torch.cat(rows)


def krotov_hopfield_memories(count: int, data: Data, generator: torch.Generator, settings: Settings) -> Tensor:
    """K&H 2019 hidden units (no labels) as pixel parts, each scaled to max |entry| = 1; class part = mean ±1 label of
    the training images that drive the unit most (0 for a unit that never wins)."""
    rule = get_rule("krotov_hopfield", units=count, **settings.krotov_hopfield.hyper)
    device = settings.device
    weights = rule.fit(
        data.train_raw.to(device), epochs=settings.krotov_hopfield.epochs, batch_size=100, generator=generator
    )
    weights = weights.cpu()
    p = settings.krotov_hopfield.p
    currents = data.train_raw @ (weights.sign() * weights.abs().pow(p - 1)).T  # the rule's own input currents
    winner = currents.argmax(1)
    label = torch.zeros(count, data.classes).index_add_(0, winner, one_hot(data.train_y, data.classes))
    label = label / torch.bincount(winner, minlength=count).clamp_min(1)[:, None]
    visible = max_scaled(weights, floor=1e-12)
    return torch.cat([visible, label], 1)


def hidden_features(weights: Tensor, data: Data, settings: Settings) -> tuple[Tensor, Tensor, Tensor]:
    """K&H 2019 hidden activities of train / val / test (N, K), divided by one number: the root mean square of the
    training images' activity norms, so that ‖h‖² is 1 on average. The delta rule's rate is then the LMS step
    relative to the input power (stable below 2) and the SGD layer's β a scale-free gain, at any ``power``; a division
    by the largest activity (as before) left ‖h‖ ≪ 1 at power 4.5, and both readouts barely moved."""
    acts = [
        hidden_activity(weights, x, settings.krotov_hopfield.p, settings.krotov_hopfield.readout.power).double()
        for x in (data.train_raw, data.val_raw, data.test_raw)
    ]
    scale = acts[0].pow(2).sum(1).mean().sqrt().clamp_min(1e-12)
    return acts[0] / scale, acts[1] / scale, acts[2] / scale


def delta_readout(h: Tensor, labels: Tensor, classes: int, settings: Settings, generator: torch.Generator) -> Tensor:
    """Local readout: S (C, K) by the delta rule ΔS = η (t - S h) hᵀ / B (``rules.hidden.lms_fit``, the
    ``delta_readout`` rule's update) over shuffled minibatches (t = ±1 one-hot)."""
    ro = settings.krotov_hopfield.readout
    return lms_fit(h, one_hot(labels, classes).double(), ro.delta_lr, ro.epochs, ro.batch_size, generator)


def sgd_readout(h: Tensor, labels: Tensor, classes: int, settings: Settings, generator: torch.Generator) -> Tensor:
    """K&H 2019's top layer: c = tanh(β S h), loss Σ|c - t|^m, plain minibatch SGD (``rules.hidden.top_layer_fit``);
    returns S (C, K)."""
    ro = settings.krotov_hopfield.readout
    target = one_hot(labels, classes).double()
    return top_layer_fit(h, target, ro.beta, ro.m, ro.sgd_lr, ro.epochs, ro.batch_size, generator)


def readout_errors(weights: Tensor, data: Data, settings: Settings, seed_index: int) -> dict:
    """Test (and validation) error of the delta-rule and SGD readouts on the K&H 2019 hidden units ``weights``."""
    h_train, h_val, h_test = hidden_features(weights, data, settings)
    out = {}
    for name, train in (("delta", delta_readout), ("sgd", sgd_readout)):
        generator = generator_for(settings.seed, "readout", name, seed_index)
        top = train(h_train, data.train_y, data.classes, settings, generator)
        out[name] = {
            split: round(float(((h @ top.T).argmax(-1) != y).double().mean()), 6)
            for split, h, y in (("val", h_val, data.val_y), ("test", h_test, data.test_y))
        }
    return out


def fixed_memories(arm: str, count: int, data: Data, seed_index: int, settings: Settings) -> Tensor:
    generator = generator_for(settings.seed, arm, count, seed_index)
    if arm == "one_shot":
        return one_shot_memories(count, data, generator)
    if arm == "prototypes":
        return prototype_memories(count, data, generator)
    return krotov_hopfield_memories(count, data, generator, settings)


# the experiment ---------------------------------------------------------------------------------------------------
def _mean_std(values: list[float]) -> tuple[float, float]:
    t = torch.tensor(values, dtype=torch.float64)
    return round(float(t.mean()), 6), round(float(t.std()), 6) if len(values) > 1 else 0.0


def run(settings: Settings) -> tuple[dict, list[dict], list[dict], dict]:
    """Every arm: returns (record arms, error curve points, vote histograms, where validation and test come from)."""
    with single_cpu_thread(settings.device):
        return _run(settings)


def _run(settings: Settings) -> tuple[dict, list[dict], list[dict], dict]:
    data = load_data(settings)
    device = settings.device
    test_x = data.test_x.to(device)
    if settings.memories > data.train_x.shape[0] or settings.memory_grid[-1] > data.train_x.shape[0]:
        raise ConfigError("classification.memory_grid", f"at most {data.train_x.shape[0]} (the training images)")
    arms: dict = {name: {} for name in ARMS}
    points: list[dict] = []
    votes: list[dict] = []

    val_x = data.val_x.to(device)

    def score(memories: Tensor, n: int) -> float:
        return error_rate(memories.to(device), test_x, data.test_y, n, data.classes)

    def validate(memories: Tensor, n: int) -> float:
        return error_rate(memories.to(device), val_x, data.val_y, n, data.classes)

    def add_point(arm: str, n: int, count: int, seed_index: int, error: float) -> None:
        points.append({"arm": arm, "n": n, "memories": count, "seed": seed_index, "test_error": round(error, 6)})

    stats: dict | None  # the vote statistics of the arm being summarised (None until measured)
    # backprop: one training per (arm, K, seed); the extra seeds only at the headline K
    for trained in settings.backprop.arms:
        start = time.perf_counter()
        headline: list[tuple[float, float, dict, float]] = []  # test, train error, votes, val error
        for count in settings.memory_grid:
            for seed_index in range(settings.seeds if count == settings.memories else 1):
                seed = _int_seed(generator_for(settings.seed, "backprop", trained.name, count, seed_index))
                memories = backprop_memories(trained, count, data, seed, settings)
                error = score(memories, trained.n)
                add_point("backprop", trained.n, count, seed_index, error)
                if count == settings.memories:
                    train = error_rate(memories, data.train_x, data.train_y, trained.n, data.classes)
                    stats = vote_statistics(memories, data.classes, data.train_x)
                    headline.append((error, train, stats, validate(memories, trained.n)))
        errors, std = _mean_std([h[0] for h in headline])
        stats = headline[0][2]
        arms["backprop"][trained.name] = {
            "n": trained.n,
            "temperature": trained.temperature,
            "m": trained.m,
            "test_error": errors,
            "test_error_std": std,
            "train_error": _mean_std([h[1] for h in headline])[0],
            "val_error": _mean_std([h[3] for h in headline])[0],
            **{k: round(v, 6) for k, v in stats.items() if k != "histogram"},
        }
        votes.append({"arm": "backprop", "n": trained.n, "histogram": stats["histogram"]})
        say(
            f"classification backprop {trained.name}: K={settings.memories} test error {errors} ± {std}, "
            f"{stats['mean_votes']:.2f} classes per memory ({time.perf_counter() - start:.1f} s)"
        )

    if arms["backprop"]:
        chosen = min(arms["backprop"], key=lambda name: (arms["backprop"][name]["val_error"], name))
        arms["backprop_selected"] = {"arm": chosen, "by": "validation error", **arms["backprop"][chosen]}

    # fixed memories: built once per (K, seed), read out at every n; n chosen on validation error
    for arm in ARMS[1:]:
        start = time.perf_counter()
        per_n: dict[int, list[float]] = {n: [] for n in settings.readout_powers}
        val_n: dict[int, list[float]] = {n: [] for n in settings.readout_powers}
        readouts: list[dict] = []
        stats = None
        for count in settings.memory_grid:
            if arm == "prototypes" and count % data.classes:
                continue
            for seed_index in range(settings.seeds if count == settings.memories else 1):
                memories = fixed_memories(arm, count, data, seed_index, settings)
                for n in settings.readout_powers:
                    error = score(memories, n)
                    add_point(arm, n, count, seed_index, error)
                    if count == settings.memories:
                        per_n[n].append(error)
                        val_n[n].append(validate(memories, n))
                if count == settings.memories and arm == "krotov_hopfield":
                    readouts.append(readout_errors(memories[:, : -data.classes], data, settings, seed_index))
                if count == settings.memories and seed_index == 0:
                    stats = vote_statistics(memories, data.classes, data.train_x)
        if stats is None:  # prototypes need K to be a multiple of C; fall back to the class means
            memories = fixed_memories(arm, data.classes, data, 0, settings)
            stats = vote_statistics(memories, data.classes, data.train_x)
            per_n = {n: [score(memories, n)] for n in settings.readout_powers}
            val_n = {n: [validate(memories, n)] for n in settings.readout_powers}
        summary = {
            f"n{n}": {
                **dict(zip(("test_error", "test_error_std"), _mean_std(e), strict=True)),
                "val_error": _mean_std(val_n[n])[0],
            }
            for n, e in per_n.items()
        }
        best = min(val_n, key=lambda n: (_mean_std(val_n[n])[0], n))  # chosen on validation, never on test
        arms[arm] = {
            "readout": summary,
            "best_n": best,
            "best_n_by": "validation error",
            "best_test_error": _mean_std(per_n[best])[0],
            **{k: round(v, 6) for k, v in stats.items() if k != "histogram"},
        }
        if readouts:
            arms[arm]["trained_readouts"] = {
                name: {
                    "test_error": _mean_std([r[name]["test"] for r in readouts])[0],
                    "test_error_std": _mean_std([r[name]["test"] for r in readouts])[1],
                    "val_error": _mean_std([r[name]["val"] for r in readouts])[0],
                }
                for name in ("delta", "sgd")
            }
        votes.append({"arm": arm, "n": None, "histogram": stats["histogram"]})
        say(
            f"classification {arm}: K={settings.memories} best test error {arms[arm]['best_test_error']} at n={best}, "
            f"{stats['mean_votes']:.2f} classes per memory ({time.perf_counter() - start:.1f} s)"
        )
    info = {"validation": data.validation, "val_count": len(data.val_y), "test_count": len(data.test_y)}
    return arms, points, votes, info


def main(args) -> None:
    run_stage(
        args,
        "classification",
        parse_settings,
        compute,
        headline=lambda record: select(record, "arms.backprop.*.test_error", "arms.*.best_test_error"),
        curves=(Curves("classification_curves.json", x="memories", y=("test_error",), series=("arm", "n", "seed")),),
    )


def compute(settings: Settings, params: Params, tracker) -> dict[str, object]:
    """The record (DVC metrics), the error curves against n and K, and the vote histograms (DVC plots)."""
    arms, points, votes, data_summary = run(settings)
    record = {
        "dataset": settings.dataset,
        "memories": settings.memories,
        "seeds": settings.seeds,
        "backprop_epochs": settings.backprop.epochs,
        "vote_threshold": VOTE_THRESHOLD,
        "validation": data_summary["validation"],
        "val_count": data_summary["val_count"],
        "test_count": data_summary["test_count"],
        "arms": arms,
    }
    return {"classification.json": record, "classification_curves.json": points, "classification_votes.json": votes}
