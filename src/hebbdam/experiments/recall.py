"""E9: in-context associative recall with Hebbian, delta-rule, polynomial, random-feature and softmax memories.

Three arms, one set of memories (``memory.mixers``, named in ``recall.memories``):

- ``schlag`` (trained): Schlag, Irie & Schmidhuber 2021's synthetic retrieval, one memory layer, d_key 64, values
  one-hot, loss ½‖ŷ - v‖² (their criterion), trained by Adam until the validation loss falls below ``stop_loss``
  (their 0.001), ``patience`` validations pass without improvement, or ``max_steps``; setting 1 (N unique keys) and
  setting 2 (2N pairs, re-bound keys, latest binding), for each N of the grid.
- ``free`` (training-free): the same memories with no backprop at all: fixed random unit keys (orthonormal rows when
  N ≤ d_key, Gaussian unit rows above), one-hot values, queries = the stored keys, β = 1 for the delta rule, softmax at
  inverse temperature ``free.softmax_beta``; every rule writes the same sequences of setting 1 and 2.
- ``mqar`` (trained): Zoology's multi-query associative recall with a ``layers``-layer Transformer whose token mixer is
  the memory (``lit.transformer.RecallTransformer``), cross-entropy at the query positions.

Capacity N* of a curve: the largest N of the grid such that the loss is ≤ ``solved_loss`` at that N and every smaller
N (the same function is applied to Schlag et al.'s logged final losses in ``references.SCHLAG_FINAL_LOSS``).
State size: numbers in one sequence's memory state (p·dv (+p) for sum/delta, L·(d + dv) for the softmax cache).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

import pytorch_lightning as pl
import torch
import torch.nn.functional as F

from ..config import ConfigError, Params
from ..data.recall_tasks import RecallDataModule, key_value_batch
from ..dynamics import single_cpu_thread
from ..logs import say
from ..memory.mixers import FEATURE_MAPS
from ..schema import (
    NONNEG_INT,
    POSITIVE,
    POSITIVE_INT,
    Check,
    Inline,
    Named,
    Section,
    choice,
    int_list,
    optional,
    parse,
    setting,
)
from .common import Curves, generator_for, run_stage, select, trainer_options

RULES = ("softmax", "sum", "delta")
SETTINGS = ("setting1", "setting2")


@dataclass(frozen=True, kw_only=True)
class Training:
    """How one trained arm fits (``lit.transformer.fit``): Adam at ``lr`` on batches of ``batch_size``, validated on
    ``val_batches`` batches every ``eval_every`` steps, until ``max_steps``, val_loss < ``stop_loss`` or
    ``patience`` validations without improvement."""

    batch_size: int = setting(POSITIVE_INT)
    lr: float = setting(POSITIVE)
    eval_every: int = setting(POSITIVE_INT)
    val_batches: int = setting(POSITIVE_INT)
    max_steps: int = setting(POSITIVE_INT)
    stop_loss: float | None = setting(optional(POSITIVE), None)
    patience: int = setting(POSITIVE_INT)

    @property
    def epochs(self) -> int:
        """Validations (Lightning epochs of ``eval_every`` steps) that cover ``max_steps``."""
        return -(-self.max_steps // self.eval_every)


@dataclass(frozen=True, kw_only=True)
class MemorySpec:
    """One memory of the ``memories`` table: its rule, its key feature map and that map's size."""

    name: str
    rule: str = setting(choice(*RULES))
    feature: str = setting(choice(*FEATURE_MAPS), "identity")
    order: int = setting(POSITIVE_INT, 1, when=lambda v: v["feature"] == "dpfp")  # read for dpfp only
    features: int = setting(POSITIVE_INT, 64, when=lambda v: v["feature"] == "favor")  # read for favor only

    def as_spec(self) -> dict:
        """The dict ``lit.transformer`` builds a memory from ({rule, feature, normalise, order, features})."""
        out = {"rule": self.rule, "feature": self.feature}
        if self.rule == "sum" and self.feature == "identity":
            out["normalise"] = False  # the plain Hebbian outer product: φ(k) may be negative, no normaliser
        if self.feature == "dpfp":
            out["order"] = self.order
        if self.feature == "favor":
            out["features"] = self.features
        return out


NAMES = Check(  # names of the ``memories`` table (checked against it in Settings.checked), duplicates dropped
    "a non-empty list of names from recall.memories",
    lambda v: isinstance(v, list) and bool(v) and all(isinstance(x, str) for x in v),
    lambda v: list(dict.fromkeys(v)),
)
PAIRS = int_list(2)
MQAR_SIZES = Check(  # [[length, pairs], …] with an even length ≥ 4·pairs (room for the pairs and one query each)
    "a list of [length, pairs] with an even length ≥ 4·pairs",
    lambda v: (
        isinstance(v, list)
        and bool(v)
        and all(isinstance(s, list) and len(s) == 2 and all(isinstance(x, int) and x > 0 for x in s) for s in v)
        and all(length % 2 == 0 and 4 * pairs <= length for length, pairs in v)
    ),
    lambda v: [(length, pairs) for length, pairs in v],
)


@dataclass(frozen=True, kw_only=True)
class Grid:
    """One Schlag setting: the memories and the grid of N (pairs)."""

    memories: list[str] = setting(NAMES)
    pairs: list[int] = setting(PAIRS, then=lambda v: sorted(set(v)))


@dataclass(frozen=True, kw_only=True)
class Schlag:
    d_key: int = setting(POSITIVE_INT)
    embed: int | None = setting(optional(POSITIVE_INT), None)
    training: Training = setting(Inline(Training))
    setting1: Grid = setting(Section(Grid))
    setting2: Grid = setting(Section(Grid))

    @property
    def grids(self) -> dict[str, tuple[list[str], list[int]]]:
        """setting → (memories, N grid)."""
        return {
            name: (grid.memories, grid.pairs)
            for name, grid in zip(SETTINGS, (self.setting1, self.setting2), strict=True)
        }


@dataclass(frozen=True, kw_only=True)
class Free:
    d_key: int = setting(POSITIVE_INT)
    sequences: int = setting(POSITIVE_INT)
    softmax_beta: float = setting(POSITIVE)
    memories: list[str] = setting(NAMES)
    pairs: list[int] = setting(PAIRS, then=lambda v: sorted(set(v)))


@dataclass(frozen=True, kw_only=True)
class Mqar:
    vocab: int = setting(POSITIVE_INT)
    sizes: list[tuple[int, int]] = setting(MQAR_SIZES)  # (sequence length, pairs), Zoology's Figure 2 grid
    d_models: list[int] = setting(int_list(1))
    power_a: float = setting(POSITIVE)
    d_key: int = setting(POSITIVE_INT)
    layers: int = setting(POSITIVE_INT)
    conv: int = setting(POSITIVE_INT)
    training: Training = setting(Inline(Training))
    memories: list[str] = setting(NAMES)

    def checked(self, section: Params) -> Mqar:
        if any(length >= self.vocab for length, _ in self.sizes):
            raise ConfigError(
                section.key("vocab"), "a vocabulary larger than every sequence length (Zoology)", self.vocab
            )
        return self


@dataclass(frozen=True, kw_only=True)
class Settings:
    seed: int = setting(NONNEG_INT)
    memories: dict[str, dict] = setting(Named(MemorySpec), then=lambda specs: {m.name: m.as_spec() for m in specs})
    solved_loss: float = setting(POSITIVE)
    schlag: Schlag = setting(Section(Schlag))
    free: Free = setting(Section(Free))
    mqar: Mqar = setting(Section(Mqar))
    trainer: dict

    def checked(self, section: Params) -> Settings:
        """Every memory list names memories of the ``memories`` table."""
        lists = {
            "schlag.setting1.memories": self.schlag.setting1.memories,
            "schlag.setting2.memories": self.schlag.setting2.memories,
            "free.memories": self.free.memories,
            "mqar.memories": self.mqar.memories,
        }
        for key, names in lists.items():
            if any(name not in self.memories for name in names):
                raise ConfigError(section.key(key), f"{NAMES.expected}: " + ", ".join(self.memories), names)
        return self


def parse_settings(params: Params) -> Settings:
    """The ``recall`` section read into :class:`Settings`, checked whole before any training starts."""
    return parse(Settings, params.section("recall"), trainer=trainer_options(params))


# measurements -----------------------------------------------------------------------------------------------------
def capacity(points: list[tuple[int, float]], solved_loss: float) -> int | None:
    """Largest N with loss ≤ ``solved_loss`` there and at every smaller N of the grid; None if the first fails."""
    best = None
    for n, loss in sorted(points):
        if loss is None or loss != loss or loss > solved_loss:
            break
        best = n
    return best


def capacity_estimate(points: list[tuple[int, float]], solved_loss: float) -> dict:
    """``{"capacity_N": N*}``; a null N* (already the grid's first N is unsolved) comes with ``capacity_N_outside``
    {side: below_grid, load: that first N (the gate's name for the grid edge), loss there}, the reason the
    regression gate (``gate.py``) reads. An N* at the grid's last N is a number: the grid cannot tell more."""
    n_star = capacity(points, solved_loss)
    if n_star is not None:
        return {"capacity_N": n_star}
    first, loss = min(points)
    return {"capacity_N": None, "capacity_N_outside": {"side": "below_grid", "load": first, "loss": loss}}


def sizes(spec: dict, d_key: int, value_dim: int, length: int) -> dict[str, int]:
    """p, the key-feature size, and the numbers in one sequence's memory state (one memory layer)."""
    from ..memory.mixers import build_memory

    order, features = spec.get("order", 1), spec.get("features", 64)
    memory = build_memory(spec["rule"], spec["feature"], d_key, order=order, features=features)
    return {"feature_size": memory.feature_size, "state_size": memory.state_size(value_dim, length)}


def free_keys(pairs: int, dim: int, generator: torch.Generator) -> torch.Tensor:
    """(N, d) fixed random unit keys: orthonormal rows when N ≤ d, independent Gaussian unit rows above."""
    gaussian = torch.randn(max(pairs, dim), dim, generator=generator)
    if pairs <= dim:
        return torch.linalg.qr(gaussian[:dim, :].T)[0].T[:pairs]
    return F.normalize(gaussian, dim=-1)


def free_recall(settings: Settings, name: str, setting: str, pairs: int) -> dict:
    """Training-free arm: fixed random keys written by the rule, no backprop. → loss, accuracy (Schlag's criterion)."""
    from ..memory.mixers import build_memory

    spec = settings.memories[name]
    options = {"normalise": spec["normalise"]} if "normalise" in spec else {}
    if spec["rule"] == "softmax":
        options["beta"] = settings.free.softmax_beta
    memory = build_memory(
        spec["rule"],
        spec["feature"],
        settings.free.d_key,
        order=spec.get("order", 1),
        features=spec.get("features", 64),
        seed=settings.seed,
        **options,
    )
    table = free_keys(pairs, settings.free.d_key, generator_for(settings.seed, "free keys", pairs))
    batch = key_value_batch(
        settings.free.sequences, pairs, int(setting[-1]), generator_for(settings.seed, "free", setting, pairs)
    )
    values = F.one_hot(batch.values, pairs).float()
    reads = memory.read(memory.final_state(table[batch.keys], values), table[batch.queries])[batch.present]
    answers = batch.answers[batch.present]
    loss = 0.5 * (reads - F.one_hot(answers, pairs).float()).square().sum(-1).mean()
    return {"loss": loss.item(), "accuracy": (reads.argmax(-1) == answers).float().mean().item()}


def mqar_key(length: int, pairs: int, d_model: int) -> str:
    return f"L{length}_N{pairs}_d{d_model}"


def train_arm(settings: Settings, task: str, name: str, pairs: int, length: int = 0, d_model: int = 0) -> dict:
    """One Lightning training run of memory ``name`` on ``task`` (kv1 | kv2 | mqar) → final validation metrics."""
    from ..lit.transformer import RecallModule, fit

    if task == "mqar":
        m, t = settings.mqar, settings.mqar.training
        model = {"vocab": m.vocab, "length": length, "d_model": d_model, "d_key": m.d_key, "layers": m.layers}
        model["conv"] = m.conv
        data = RecallDataModule(
            task, pairs, t.batch_size, t.eval_every, t.val_batches, settings.seed, m.vocab, length, m.power_a
        )
    else:
        s, t = settings.schlag, settings.schlag.training
        model = {"pairs": pairs, "d_key": s.d_key, "embed": s.embed or int(2 * pairs * 1.1)}
        data = RecallDataModule(task, pairs, t.batch_size, t.eval_every, t.val_batches, settings.seed)
    pl.seed_everything(settings.seed, workers=True, verbose=False)
    label = f"recall/{task}/{name}/" + (mqar_key(length, pairs, d_model) if task == "mqar" else f"N{pairs}")
    module = RecallModule(task, settings.memories[name], model, t.lr, settings.seed, label=label)
    return fit(module, data, t.epochs, settings.trainer, label, stop_loss=t.stop_loss, patience=t.patience)


def trained_point(settings: Settings, task: str, name: str, pairs: int, length: int = 0, d_model: int = 0) -> dict:
    """One point of a trained arm (``task`` setting1 | setting2 | mqar): {arm, task, memory, N, [length, d_model],
    loss, accuracy, feature_size, state_size, steps}; its wall time is printed, not recorded."""
    start = time.perf_counter()
    if task == "mqar":
        result = train_arm(settings, "mqar", name, pairs, length, d_model)
        where = {"length": length, "d_model": d_model}
        size = sizes(settings.memories[name], settings.mqar.d_key, d_model, length)
        label = mqar_key(length, pairs, d_model)
    else:
        result = train_arm(settings, "kv" + task[-1], name, pairs)
        where = {}
        size = sizes(settings.memories[name], settings.schlag.d_key, pairs, pairs * int(task[-1]))
        label = f"N={pairs}"
    say(
        f"recall {task} {name} {label}: loss {result['val_loss']:.4g}, accuracy {result['val_acc']:.3f}, "
        f"{result['steps']} steps ({time.perf_counter() - start:.1f} s)"
    )
    point = {"arm": "trained", "task": task, "memory": name, "N": pairs, **where}
    return {**point, "loss": result["val_loss"], "accuracy": result["val_acc"], **size, "steps": result["steps"]}


def run(settings: Settings) -> list[dict]:
    """Every point of every arm: {arm, task, memory, N, loss, accuracy, state_size, steps}. Wall times are printed,
    not recorded, so the record is repeatable bit for bit."""
    points: list[dict] = []
    for grid_name in SETTINGS:
        for name in settings.free.memories:
            for pairs in settings.free.pairs:
                result = free_recall(settings, name, grid_name, pairs)
                size = sizes(settings.memories[name], settings.free.d_key, pairs, pairs * int(grid_name[-1]))
                points.append({"arm": "free", "task": grid_name, "memory": name, "N": pairs, **result, **size})
        say(f"recall free {grid_name}: " + ", ".join(f"{p['memory']} N={p['N']} {p['loss']:.3g}" for p in points[-3:]))
    for grid_name in SETTINGS:
        names, grid = settings.schlag.grids[grid_name]
        points += [trained_point(settings, grid_name, name, pairs) for name in names for pairs in grid]
    m = settings.mqar
    for (length, pairs), d_model, name in itertools.product(m.sizes, m.d_models, m.memories):
        points.append(trained_point(settings, "mqar", name, pairs, length, d_model))
    return [{k: round(v, 6) if isinstance(v, float) else v for k, v in p.items()} for p in points]


def summarise(settings: Settings, points: list[dict]) -> dict:
    """Per arm, task and memory: the points by N and the capacity N*; MQAR accuracy and state size."""
    out: dict = {}
    for arm in ("trained", "free"):
        for task in SETTINGS:
            mine = [p for p in points if p["arm"] == arm and p["task"] == task]
            for name in dict.fromkeys(p["memory"] for p in mine):
                curve = [p for p in mine if p["memory"] == name]
                out.setdefault(arm, {}).setdefault(task, {})[name] = {
                    **{f"N{p['N']}": {"N": p["N"], "loss": p["loss"], "accuracy": p["accuracy"]} for p in curve},
                    **capacity_estimate([(p["N"], p["loss"]) for p in curve], settings.solved_loss),
                    "feature_size": curve[-1]["feature_size"],
                    "state_size_at_largest_N": curve[-1]["state_size"],
                }
    for p in points:
        if p["task"] == "mqar":
            entry = {
                k: p[k] for k in ("length", "N", "d_model", "accuracy", "loss", "feature_size", "state_size", "steps")
            }
            out.setdefault("mqar", {}).setdefault(p["memory"], {})[mqar_key(p["length"], p["N"], p["d_model"])] = entry
    return out


def compute(settings: Settings, params: Params, tracker) -> dict[str, object]:
    """The stage's files: the record (capacities, MQAR accuracies, sizes used) and every point."""
    start = time.perf_counter()
    with single_cpu_thread("cpu" if settings.trainer.get("accelerator", "cpu") == "cpu" else "cuda"):
        points = run(settings)
    m = settings.mqar
    record = {
        "seed": settings.seed,
        "solved_loss": settings.solved_loss,
        "schlag": {
            "d_key": settings.schlag.d_key,
            "max_steps": settings.schlag.training.max_steps,
            "stop_loss": settings.schlag.training.stop_loss,
            "grids": {s: {"memories": g[0], "N": g[1]} for s, g in settings.schlag.grids.items()},
        },
        "free_setting": {"d_key": settings.free.d_key, "softmax_beta": settings.free.softmax_beta},
        "mqar_setting": {
            "vocab": m.vocab,
            "sizes": [list(size) for size in m.sizes],
            "d_models": m.d_models,
            "d_key": m.d_key,
            "layers": m.layers,
            "max_steps": m.training.max_steps,
        },
        "memories": settings.memories,
        **summarise(settings, points),
    }
    say(f"recall: {time.perf_counter() - start:.1f} s")
    return {"recall.json": record, "recall_curves.json": points}


def main(args) -> None:
    run_stage(
        args,
        "recall",
        parse_settings,
        compute,
        headline=lambda record: select(record, "trained.*.*.capacity_N", "free.*.*.capacity_N", "mqar.*.*.accuracy"),
        curves=(Curves("recall_curves.json", x="N", y=("loss", "accuracy"), series=("arm", "task", "memory")),),
    )
