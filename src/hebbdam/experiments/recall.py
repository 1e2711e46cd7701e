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
from .common import Curves, generator_for, run_stage, select, trainer_options

RULES = ("softmax", "sum", "delta")
SETTINGS = ("setting1", "setting2")
POSITIVE = (lambda v: 0 < v < float("inf"), "a number in (0, ∞)")  # Params.number's check and its description


@dataclass(frozen=True)
class Training:
    """How one trained arm fits (``lit.transformer.fit``): Adam at ``lr`` on batches of ``batch_size``, validated on
    ``val_batches`` batches every ``eval_every`` steps, until ``max_steps``, val_loss < ``stop_loss`` or
    ``patience`` validations without improvement."""

    batch_size: int
    lr: float
    eval_every: int
    val_batches: int
    max_steps: int
    stop_loss: float | None
    patience: int

    @property
    def epochs(self) -> int:
        """Validations (Lightning epochs of ``eval_every`` steps) that cover ``max_steps``."""
        return -(-self.max_steps // self.eval_every)


@dataclass(frozen=True)
class Schlag:
    d_key: int
    embed: int | None
    training: Training
    grids: dict[str, tuple[list[str], list[int]]]  # setting → (memories, N grid)


@dataclass(frozen=True)
class Free:
    d_key: int
    sequences: int
    softmax_beta: float
    memories: list[str]
    pairs: list[int]


@dataclass(frozen=True)
class Mqar:
    vocab: int
    sizes: list[tuple[int, int]]  # (sequence length, pairs), Zoology's Figure 2 grid
    d_models: list[int]
    power_a: float
    d_key: int
    layers: int
    conv: int
    training: Training
    memories: list[str]


@dataclass(frozen=True)
class Settings:
    seed: int
    memories: dict[str, dict]
    solved_loss: float
    schlag: Schlag
    free: Free
    mqar: Mqar
    trainer: dict


def parse_memory(section: Params, name: str) -> dict:
    spec = section.section(name)
    rule = spec.choice("rule", RULES)
    out = {"rule": rule, "feature": spec.choice("feature", FEATURE_MAPS, "identity")}
    if rule != "softmax" and out["feature"] == "identity" and rule == "sum":
        out["normalise"] = False  # the plain Hebbian outer product: φ(k) may be negative, no normaliser
    if out["feature"] == "dpfp":
        out["order"] = spec.positive_int("order", 1)
    if out["feature"] == "favor":
        out["features"] = spec.positive_int("features", 64)
    return out


def memory_list(section: Params, key: str, known: dict) -> list[str]:
    names = section.raw(key)
    if not isinstance(names, list) or not names or any(n not in known for n in names):
        raise ConfigError(
            section.key(key), "a non-empty list of names from recall.memories: " + ", ".join(known), names
        )
    return list(dict.fromkeys(names))


def optional_number(section: Params, key: str) -> float | None:
    if section.raw(key, None) is None:
        return None
    return section.number(key, lambda v: 0 < v < float("inf"), "a number in (0, ∞) or null")


def parse_training(section: Params) -> Training:
    return Training(
        batch_size=section.positive_int("batch_size"),
        lr=section.number("lr", *POSITIVE),
        eval_every=section.positive_int("eval_every"),
        val_batches=section.positive_int("val_batches"),
        max_steps=section.positive_int("max_steps"),
        stop_loss=optional_number(section, "stop_loss"),
        patience=section.positive_int("patience"),
    )


def parse_mqar_sizes(section: Params) -> list[tuple[int, int]]:
    """``sizes``: [[length, pairs], …] with an even length ≥ 4·pairs (room for the pairs and one query each)."""
    sizes = section.raw("sizes")
    ok = (
        isinstance(sizes, list)
        and sizes
        and all(isinstance(s, list) and len(s) == 2 and all(isinstance(v, int) and v > 0 for v in s) for s in sizes)
    )
    if not ok or any(length % 2 or 4 * pairs > length for length, pairs in sizes):
        raise ConfigError(section.key("sizes"), "a list of [length, pairs] with an even length ≥ 4·pairs", sizes)
    return [(length, pairs) for length, pairs in sizes]


def parse_settings(params: Params) -> Settings:
    """Validate the whole ``recall`` section before any training starts."""
    section = params.section("recall")
    memories_section = section.section("memories")
    memories = {name: parse_memory(memories_section, name) for name, _ in memories_section.items()}
    sch = section.section("schlag")
    grids = {}
    for setting in SETTINGS:
        part = sch.section(setting)
        grids[setting] = (memory_list(part, "memories", memories), sorted(set(part.int_list("pairs", minimum=2))))
    embed = sch.raw("embed", None)
    free = section.section("free")
    mq = section.section("mqar")
    mqar = Mqar(
        vocab=mq.positive_int("vocab"),
        sizes=parse_mqar_sizes(mq),
        d_models=mq.int_list("d_models"),
        power_a=mq.number("power_a", *POSITIVE),
        d_key=mq.positive_int("d_key"),
        layers=mq.positive_int("layers"),
        conv=mq.positive_int("conv"),
        training=parse_training(mq),
        memories=memory_list(mq, "memories", memories),
    )
    if any(length >= mqar.vocab for length, _ in mqar.sizes):
        raise ConfigError(mq.key("vocab"), "a vocabulary larger than every sequence length (Zoology)", mqar.vocab)
    return Settings(
        seed=section.nonneg_int("seed"),
        memories=memories,
        solved_loss=section.number("solved_loss", *POSITIVE),
        schlag=Schlag(
            d_key=sch.positive_int("d_key"),
            embed=None if embed is None else sch.positive_int("embed"),
            training=parse_training(sch),
            grids=grids,
        ),
        free=Free(
            d_key=free.positive_int("d_key"),
            sequences=free.positive_int("sequences"),
            softmax_beta=free.number("softmax_beta", *POSITIVE),
            memories=memory_list(free, "memories", memories),
            pairs=sorted(set(free.int_list("pairs", minimum=2))),
        ),
        mqar=mqar,
        trainer=trainer_options(params),
    )


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
    for setting in SETTINGS:
        for name in settings.free.memories:
            for pairs in settings.free.pairs:
                result = free_recall(settings, name, setting, pairs)
                size = sizes(settings.memories[name], settings.free.d_key, pairs, pairs * int(setting[-1]))
                points.append({"arm": "free", "task": setting, "memory": name, "N": pairs, **result, **size})
        say(f"recall free {setting}: " + ", ".join(f"{p['memory']} N={p['N']} {p['loss']:.3g}" for p in points[-3:]))
    for setting in SETTINGS:
        names, grid = settings.schlag.grids[setting]
        points += [trained_point(settings, setting, name, pairs) for name in names for pairs in grid]
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
                    **{f"N{p['N']}": {"loss": p["loss"], "accuracy": p["accuracy"]} for p in curve},
                    **capacity_estimate([(p["N"], p["loss"]) for p in curve], settings.solved_loss),
                    "feature_size": curve[-1]["feature_size"],
                    "state_size_at_largest_N": curve[-1]["state_size"],
                }
    for p in points:
        if p["task"] == "mqar":
            entry = {k: p[k] for k in ("accuracy", "loss", "feature_size", "state_size", "steps")}
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
