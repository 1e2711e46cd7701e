"""E9: in-context associative recall with Hebbian, delta-rule, polynomial, random-feature and softmax memories.

Three arms, one set of memories (``memory.mixers``, named in ``recall.memories``):

- ``schlag`` (trained): Schlag, Irie & Schmidhuber 2021's synthetic retrieval, one memory layer, d_key 64, values
  one-hot, loss ½‖ŷ - v‖² (their criterion), trained by Adam until the validation loss falls below ``stop_loss``
  (their 0.001), ``patience`` validations pass without improvement, or ``max_steps``; setting 1 (N unique keys) and
  setting 2 (2N pairs, re-bound keys, latest binding), for each N of the grid.
- ``free`` (training-free): the same memories with no backprop at all, on value spaces that do not grow with N
  (one-hot values of dimension N and argmax over N would turn a sum-rule memory into nearest-neighbour search: it keeps
  every key verbatim): ``sign``, random ±1 vectors of d_v = d_key dimensions, correct when every bit of sign(read) is
  right; ``onehot``, one-hot over a fixed vocabulary of ``free.vocab`` classes, correct when the argmax over it is.
  Keys are random unit vectors, fresh per sequence, never orthonormalised; queries = the stored keys; β = 1 for the
  delta rule, softmax at inverse temperature ``free.softmax_beta``; every rule writes the same sequences of setting 1
  and 2. Capacity N*: the largest N with accuracy ≥ ``free.level`` there and at every smaller N (null with
  ``capacity_N_outside`` when censored at either grid edge). A normaliser (a positive scalar per query) changes
  neither sign nor argmax, so a linear memory with and without it scores the same here: both are named.
- ``mqar`` (trained): Zoology's multi-query associative recall with a ``layers``-layer Transformer whose token mixer is
  the memory (``lit.transformer.RecallTransformer``), cross-entropy at the query positions.

Capacity N* of a curve: the largest N of the grid such that the loss is ≤ ``solved_loss`` at that N and every smaller
N (the same function is applied to Schlag et al.'s logged final losses in ``references.SCHLAG_FINAL_LOSS``).
State size: numbers in one sequence's memory state (p·dv (+p for the normaliser) for sum/delta, L·(d + dv) for the
softmax cache, which grows with the sequence length L = N or 2N).
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from dataclasses import dataclass
from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F

from ..config import Params
from ..data.recall_tasks import RecallDataModule, key_value_batch
from ..dynamics import single_cpu_thread
from ..logs import say
from ..metrics import grid_estimate, largest_load_above
from ..settings import recall as schema
from ..settings.recall import SETTINGS, Settings, Training
from .common import Curves, built, generator_for, run_stage, select


def parse_settings(params: Params) -> Settings:
    """The settings of :mod:`hebbdam.settings.recall`, checked whole before any work, with their rules and
    separations built."""
    return built(schema.parse_settings(params))


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
    options = {"normalise": spec["normalise"]} if "normalise" in spec else {}
    memory: Any = build_memory(spec["rule"], spec["feature"], d_key, order=order, features=features, **options)
    return {"feature_size": memory.feature_size, "state_size": memory.state_size(value_dim, length)}


def free_keys(sequences: int, pairs: int, dim: int, generator: torch.Generator) -> torch.Tensor:
    """(B, N, d) random unit keys, fresh for every sequence, never orthonormalised (Gaussian rows normalised)."""
    return F.normalize(torch.randn(sequences, pairs, dim, generator=generator), dim=-1)


def free_values(space: str, ids: torch.Tensor, dim: int, vocab: int, generator: torch.Generator) -> torch.Tensor:
    """(B, L) write positions → (B, L, dv) values from a space that does not grow with N: ``sign``, independent
    random ±1 vectors (dv = ``dim``); ``onehot``, one-hot of a uniform class of ``vocab`` (dv = ``vocab``)."""
    if space == "sign":
        return torch.randint(2, (*ids.shape, dim), generator=generator).float() * 2 - 1
    return F.one_hot(torch.randint(vocab, ids.shape, generator=generator), vocab).float()


TIE = 1e-5  # a margin below this fraction of the read's largest |entry| is a tie (float rounding), counted wrong


def correct(space: str, reads: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """(Q, dv) read-outs and stored values → (Q,) exact recall: ``sign``, every bit of sign(read) equals the stored
    bit; ``onehot``, the stored class's read exceeds every other class's (argmax over the fixed vocabulary). A margin
    within ``TIE`` of the read's scale is a tie and counts as wrong (e.g. a key bound to two values, read by a softmax
    as their average), so the verdict never rests on float rounding."""
    tolerance = TIE * reads.abs().amax(-1).clamp_min(torch.finfo(reads.dtype).tiny)
    if space == "sign":
        return (reads * targets).amin(-1) > tolerance
    stored = (reads * targets).sum(-1)
    others = reads.masked_fill(targets.bool(), -torch.inf).amax(-1)
    return stored - others > tolerance


def free_memory(settings: Settings, name: str):
    """Memory ``name`` of the table as the training-free arm builds it (softmax at ``free.softmax_beta``)."""
    from ..memory.mixers import build_memory

    spec = settings.memories[name]
    options = {"normalise": spec["normalise"]} if "normalise" in spec else {}
    options["beta"] = settings.free.softmax_beta  # read by the softmax memory only (memory.mixers.build_memory)
    order, features = spec.get("order", 1), spec.get("features", 64)
    return build_memory(
        spec["rule"],
        spec["feature"],
        settings.free.d_key,
        order=order,
        features=features,
        seed=settings.seed,
        **options,
    )


def free_recall(settings: Settings, name: str, setting: str, pairs: int, space: str) -> dict:
    """Training-free arm: random unit keys written by the rule with values from ``space``, no backprop; every key
    present in a sequence is queried (setting 2: the latest binding is the answer). → accuracy, queries."""
    free = settings.free
    sequences = max(free.sequences, -(-free.queries // pairs))
    generator = generator_for(settings.seed, "free", space, setting, pairs)
    batch = key_value_batch(sequences, pairs, int(setting[-1]), generator)
    table = free_keys(sequences, pairs, free.d_key, generator)
    keys = table.gather(1, batch.keys.unsqueeze(-1).expand(-1, -1, free.d_key))
    values = free_values(space, batch.keys, free.d_key, free.vocab, generator)
    memory = free_memory(settings, name)
    reads = memory.read(memory.final_state(keys, values), table)[batch.present]
    latest = batch.latest.clamp_min(0).unsqueeze(-1).expand(-1, -1, values.shape[-1])
    hits = correct(space, reads, values.gather(1, latest)[batch.present])
    return {"accuracy": hits.float().mean().item(), "queries": hits.numel()}


def free_capacity(points: list[tuple[int, float]], level: float) -> dict:
    """``{"capacity_N": N*}``, N* the largest N of the grid with accuracy ≥ ``level`` there and at every smaller N;
    censored at either edge of the grid (the first N already fails, or every N passes) it is null with
    ``capacity_N_outside`` (``metrics.grid_estimate``: side, load = that edge's N, fraction = its accuracy)."""
    ns, accuracies = zip(*sorted(points), strict=True)
    best = largest_load_above(ns, accuracies, level)
    inside = None if best is None or best == ns[-1] else int(best)
    return grid_estimate("capacity_N", inside, ns, accuracies, level)


def mqar_key(length: int, pairs: int, d_model: int) -> str:
    return f"L{length}_N{pairs}_d{d_model}"


def train_arm(settings: Settings, task: str, name: str, pairs: int, length: int = 0, d_model: int = 0) -> dict:
    """One Lightning training run of memory ``name`` on ``task`` (kv1 | kv2 | mqar) → final validation metrics,
    steps and the validation history (``lit.transformer.fit``)."""
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
    module = RecallModule(task, settings.memories[name], model, t.lr_of(name), settings.seed, label=label)
    flat = (t.patience * t.eval_every, t.flat_tolerance) if t.flat_tolerance > 0 else None
    return fit(module, data, t.epochs, settings.trainer, label, stop_loss=t.stop_loss, patience=t.patience, flat=flat)


@dataclass(frozen=True)
class Fit:
    """One independent fit of a trained arm (``task`` setting1 | setting2 | mqar), as sent to a worker process."""

    settings: Settings
    task: str
    name: str
    pairs: int
    length: int = 0
    d_model: int = 0

    @property
    def label(self) -> str:
        """The fit's W&B prefix: recall/<task>/<memory>/<N or MQAR size>."""
        where = mqar_key(self.length, self.pairs, self.d_model) if self.task == "mqar" else f"N{self.pairs}"
        return f"recall/{self.task}/{self.name}/{where}"

    @property
    def cost(self) -> int:
        """A rough relative cost (tokens per sequence · value size), to start the longest fits first."""
        if self.task == "mqar":
            return self.length * self.d_model * 64
        return self.pairs * int(self.task[-1]) * self.pairs


def fit_point(fit: Fit) -> tuple[dict, list[list[float]]]:
    """The point of :func:`trained_point` and the fit's validation history [[step, val_loss, val_acc], …], which the
    stage logs (a worker logs nothing)."""
    return trained_point(fit.settings, fit.task, fit.name, fit.pairs, fit.length, fit.d_model)


@dataclass(frozen=True)
class Chain:
    """The fits one worker runs in order (an item of ``parallel.map_fits``): a Schlag memory's N grid, then each N of
    its setting's ``extend`` list while every point so far is solved (loss ≤ ``solved_loss``: the memories whose N*
    would otherwise be censored at the grid's top); or one MQAR fit. A memory's extension waits for its own grid
    only, never for the other fits of the stage, so no core idles at a barrier between the grid and the extensions."""

    fits: tuple[Fit, ...]
    extend: tuple[int, ...] = ()

    @property
    def cost(self) -> int:
        """A rough relative cost (:attr:`Fit.cost` summed over the grid), to start the longest chains first."""
        return sum(fit.cost for fit in self.fits)


def solved_so_far(settings: Settings, points: list[dict]) -> bool:
    """Every point solved (final loss ≤ ``solved_loss``): the chain goes on to its next ``extend`` N."""
    return all(point["loss"] <= settings.solved_loss for point in points)


def fit_chain(chain: Chain) -> list[tuple[Fit, tuple[dict, list[list[float]]]]]:
    """A worker's call: :func:`fit_point` of every fit of the chain, then of each ``extend`` N (ascending) while
    :func:`solved_so_far` → [(fit, (point, history)), …] in the order run."""
    done = [(fit, fit_point(fit)) for fit in chain.fits]
    for pairs in chain.extend:
        if not solved_so_far(chain.fits[0].settings, [point for _, (point, _) in done]):
            break
        fit = dataclasses.replace(chain.fits[0], pairs=pairs)
        done.append((fit, fit_point(fit)))
    return done


def trained_chains(settings: Settings) -> list[Chain]:
    """Every chain of the trained arms, in the record's order: Schlag setting 1, setting 2 (one chain per memory),
    then one chain per MQAR fit."""
    chains = [
        Chain(tuple(Fit(settings, task, name, pairs) for pairs in grid.pairs), tuple(grid.extend))
        for task in SETTINGS
        for grid in [getattr(settings.schlag, task)]
        for name in grid.memories
    ]
    m = settings.mqar
    for (length, pairs), d_model, name in itertools.product(m.sizes, m.d_models, m.memories):
        chains.append(Chain((Fit(settings, "mqar", name, pairs, length, d_model),)))
    return chains


def record_order(settings: Settings, fit: Fit) -> tuple[int, int, int]:
    """Sort key of a fit in the record: setting 1, setting 2 (memory as listed, then N), then MQAR (one rank)."""
    if fit.task == "mqar":
        return len(SETTINGS), 0, 0
    return SETTINGS.index(fit.task), getattr(settings.schlag, fit.task).memories.index(fit.name), fit.pairs


def trained_points(settings: Settings, tracker=None) -> list[dict]:
    """Every trained point, all chains (:func:`trained_chains`) in one parallel map → points in the record's order
    (setting, memory as listed, N; then MQAR); each fit's history is logged in that order."""
    done = [item for results in run_chains(trained_chains(settings)) for item in results]
    done.sort(key=lambda pair: record_order(settings, pair[0]))  # stable: MQAR keeps its product order
    if tracker is not None:
        for fit, (_, history) in done:
            tracker.history(fit.label, ("step", "val_loss", "val_acc"), history)
    return [point for _, (point, _) in done]


def run_chains(chains: list[Chain], workers: int | None = None) -> list[list]:
    """:func:`fit_chain` of every chain, in ``chains``' order, on ``workers`` processes (``parallel.map_fits``),
    handed out longest first so that a long chain does not start last. The results do not depend on the order or
    the number of workers (each fit seeds its own weights and data)."""
    from ..parallel import map_fits

    order = sorted(range(len(chains)), key=lambda i: -chains[i].cost)  # stable: ties keep the record's order
    results = map_fits(fit_chain, [chains[i] for i in order], workers)
    out: list = [None] * len(chains)
    for i, result in zip(order, results, strict=True):
        out[i] = result
    return out


def trained_point(
    settings: Settings, task: str, name: str, pairs: int, length: int = 0, d_model: int = 0
) -> tuple[dict, list[list[float]]]:
    """One point of a trained arm (``task`` setting1 | setting2 | mqar): {arm, values, task, memory, N, [length,
    d_model], loss, accuracy, feature_size, state_size, steps, status (:func:`convergence`)} and the fit's
    validation history; its wall and CPU time are printed, not recorded."""
    start, cpu = time.perf_counter(), time.process_time()
    training = settings.mqar.training if task == "mqar" else settings.schlag.training
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
        f"{result['steps']} steps at lr {training.lr_of(name):g} ({time.perf_counter() - start:.1f} s wall, "
        f"{time.process_time() - cpu:.1f} s CPU)"
    )
    point: dict[str, object] = {"arm": "trained", "values": "vocab" if task == "mqar" else "onehot_N", "task": task}
    point.update(memory=name, N=pairs, **where)
    history = result["history"]
    # MQAR only: its loss sits flat at chance before it drops, so a patience stop there is no plateau; a Schlag fit
    # can reach its plateau within the first validation interval (FAVOR+ at N = 40), so its first loss is not read
    first = history[0][1] if history and task == "mqar" else None
    status = convergence(result["val_loss"], result["steps"], training, first)
    point.update(loss=result["val_loss"], accuracy=result["val_acc"], **size, steps=result["steps"], status=status)
    point["lr"] = training.lr_of(name)
    if task == "mqar":
        point["still_falling"] = still_falling(history, training)
    return point, result["history"]


LEARNING = 0.05  # a fit has started learning once its validation loss fell this fraction below its first one


def convergence(loss: float, steps: int, training: Training, first_loss: float | None = None) -> str:
    """How a fit ended: ``solved`` (validation loss below ``stop_loss``), ``plateau`` (``patience`` validations
    without improvement before the cap, after the loss had fallen at least ``LEARNING`` below ``first_loss``, the
    first validation's: converged, whatever the loss), or ``not converged`` (stopped by the ``max_steps`` cap, or
    stopped early on the flat stretch before learning starts, e.g. MQAR at chance: its loss says nothing about the
    memory's limit)."""
    if training.stop_loss is not None and loss < training.stop_loss:
        return "solved"
    started = first_loss is None or loss <= (1 - LEARNING) * first_loss
    return "plateau" if steps < training.max_steps and started else "not converged"


def still_falling(history: list[list[float]], training: Training) -> float:
    """The relative fall of the validation loss over the last ``patience`` validations (over all of them when there
    are fewer), (before − final) / before: > 0 still improving at the end; 0 with one validation or none."""
    if not history:
        return 0.0
    before, final = history[max(0, len(history) - 1 - training.patience)][1], history[-1][1]
    return round((before - final) / before, 6) if before > 0 else 0.0


def free_points(settings: Settings) -> list[dict]:
    """Every point of the training-free arm: {arm, values, task, memory, N, accuracy, queries, feature_size,
    state_size}, the state size counted with the value space's dv (d_key for ±1, the vocabulary for one-hot)."""
    free, points = settings.free, []
    for space, task, name in itertools.product(free.values, SETTINGS, free.memories):
        value_dim = free.d_key if space == "sign" else free.vocab
        for pairs in free.pairs:
            result = free_recall(settings, name, task, pairs, space)
            size = sizes(settings.memories[name], free.d_key, value_dim, pairs * int(task[-1]))
            points.append({"arm": "free", "values": space, "task": task, "memory": name, "N": pairs, **result, **size})
        say(
            f"recall free {space} {task} {name}: "
            + ", ".join(f"{p['accuracy']:.2f}" for p in points[-len(free.pairs) :])
        )
    return points


def run(settings: Settings, tracker=None) -> list[dict]:
    """Every point of every arm: {arm, values, task, memory, N, loss, accuracy, state_size, steps}. The trained fits
    run in parallel processes (:func:`run_chains`; $HEBBDAM_WORKERS, default the usable cores); their validation
    histories are logged here, fit by fit in the record's order. Wall times are printed, not recorded, so the
    record is repeatable bit for bit, for any number of workers. ``values`` names the value space: ``sign`` /
    ``onehot`` (fixed, training-free arm), ``onehot_N`` (one-hot of dimension N, the trained Schlag task), ``vocab``
    (MQAR's token vocabulary)."""
    with single_cpu_thread(torch.device("cpu")):
        points = free_points(settings)
    points += trained_points(settings, tracker)
    return [{k: round(v, 6) if isinstance(v, float) else v for k, v in p.items()} for p in points]


def summarise_free(settings: Settings, points: list[dict]) -> dict:
    """free → value space → setting → memory: accuracy and state size by N, the capacity N* at ``free.level``."""
    out: dict = {}
    for space, task, name in itertools.product(settings.free.values, SETTINGS, settings.free.memories):
        curve = [
            p for p in points if p["arm"] == "free" and (p["values"], p["task"], p["memory"]) == (space, task, name)
        ]
        out.setdefault(space, {}).setdefault(task, {})[name] = {
            **{f"N{p['N']}": {k: p[k] for k in ("N", "accuracy", "queries", "state_size")} for p in curve},
            **free_capacity([(p["N"], p["accuracy"]) for p in curve], settings.free.level),
            "feature_size": curve[-1]["feature_size"],
        }
    return out


# an MQAR entry of the record; ``still_falling`` (:func:`still_falling`) is the evidence behind a "not converged"
MQAR_FIELDS = [
    "length",
    "N",
    "d_model",
    "accuracy",
    "loss",
    "feature_size",
    "state_size",
    "steps",
    "status",
    "lr",
    "still_falling",
]


def summarise(settings: Settings, points: list[dict]) -> dict:
    """Per arm, task and memory: the points by N and the capacity N*; MQAR accuracy and state size."""
    out: dict = {"free": summarise_free(settings, points)}
    for task in SETTINGS:
        mine = [p for p in points if p["arm"] == "trained" and p["task"] == task]
        for name in dict.fromkeys(p["memory"] for p in mine):
            curve = [p for p in mine if p["memory"] == name]
            out.setdefault("trained", {}).setdefault(task, {})[name] = {
                **{f"N{p['N']}": {k: p[k] for k in ("N", "loss", "accuracy", "steps", "status")} for p in curve},
                "not_converged": [p["N"] for p in curve if p["status"] == "not converged"],
                **capacity_estimate([(p["N"], p["loss"]) for p in curve], settings.solved_loss),
                "feature_size": curve[-1]["feature_size"],
                "state_size_at_largest_N": curve[-1]["state_size"],
            }
    for p in points:
        if p["task"] == "mqar":
            entry = {k: p[k] for k in MQAR_FIELDS}
            out.setdefault("mqar", {}).setdefault(p["memory"], {})[mqar_key(p["length"], p["N"], p["d_model"])] = entry
    return out


def compute(settings: Settings, params: Params, tracker) -> dict[str, object]:
    """The stage's files: the record (capacities, MQAR accuracies, sizes used) and every point."""
    start = time.perf_counter()
    points = run(settings, tracker)
    m = settings.mqar
    record = {
        "seed": settings.seed,
        "solved_loss": settings.solved_loss,
        "schlag": {
            "d_key": settings.schlag.d_key,
            "max_steps": settings.schlag.training.max_steps,
            "stop_loss": settings.schlag.training.stop_loss,
            "grids": {s: {"memories": g[0], "N": g[1]} for s, g in settings.schlag.grids.items()},
            "extend": {s: getattr(settings.schlag, s).extend for s in SETTINGS},
        },
        "free_setting": {
            "d_key": settings.free.d_key,
            "softmax_beta": settings.free.softmax_beta,
            "vocab": settings.free.vocab,
            "level": settings.free.level,
            "values": settings.free.values,
        },
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
    return {"recall.json": record, "recall_curves.json": one_key_set(points)}


def one_key_set(rows: list[dict]) -> list[dict]:
    """Every row with the union of the rows' keys (first-seen order), a key it lacks as null: a DVC plot file must
    hold one key set (``dvc plots show`` refuses mixed rows with a TypeError). The training-free arm has no loss or
    steps, the trained arms no query count, Schlag's tasks no MQAR length."""
    keys = list(dict.fromkeys(key for row in rows for key in row))
    return [{key: row.get(key) for key in keys} for row in rows]


def main(args) -> None:
    run_stage(
        args,
        "recall",
        parse_settings,
        compute,
        headline=lambda record: select(record, "trained.*.*.capacity_N", "free.*.*.*.capacity_N", "mqar.*.*.accuracy"),
        curves=(
            Curves("recall_curves.json", x="N", y=("loss", "accuracy"), series=("arm", "values", "task", "memory")),
        ),
    )
