"""E7: continual (sequential) learning in the DAM (McAlister, Robins & Szymanski 2025; issue 25, part 5).

T tasks, each a set of P random ±1 patterns (D units), are learned one after another. ``layout``: ``split`` draws
each task's patterns independently; ``permuted`` draws one base set and gives task t its own fixed permutation of
the D units (the paper's permuted tasks: the overlaps inside a task are the same in every task). After learning task
s every task t ≤ s is probed: a pattern is recalled when synchronous relaxation from it with ``flip``·D flipped bits
ends on it exactly, and R[t, s] is the fraction of task t's patterns recalled (the probes of a task are drawn once).

Arms (every memory a registry kind, every write a registry rule or the project's Lightning module):
- incremental Hebbian rules on W (D, D) (kind ``hopfield``): ``hebb`` (the integer sums of outer products keep
  accumulating; a running average W_t = ΣΔW / t differs from the sum by a positive factor only, so its sign recall
  is the same), ``storkey`` (each pattern sees the weights the previous tasks left);
- ``slot`` writes into a DAM Ξ (kind ``dense``) with ``slots`` K rows: each task's patterns are appended; when the K
  rows are full the oldest are dropped (a memory that forgets only what no longer fits);
- ``backprop``: a DAM Ξ (K, D) (``lit.backprop.MemoryMatrix``, start N(0, 0.1²)) trained task after task on the
  denoising loss through unrolled recall (``lit.backprop.Denoising``), each task's fit a fresh Adam run to its
  plateau (``lit.backprop.fit_until_plateau``: the epoch loss flat within ``tolerance`` over ``window`` updates, or
  at most ``floor``; else the ``cap`` and ``converged`` false). With ``rehearsal`` R > 0 the fit of task s also sees
  a replay buffer: the first R patterns of every earlier task.

Per arm, over ``seeds`` independent repetitions (each a job of ``parallel.map_fits``: the record is the same for any
number of workers): the forgetting curves R[t, s] (s ≥ t) with 95% intervals (bootstrap over seeds), the average
final recall A = mean_t R[t, T−1], backward transfer BWT = mean_{t<T−1} (R[t, T−1] − R[t, t]) (negative: forgetting)
and the recall of task 1 at the end, each with its interval; for backprop arms every fit's updates, loss and
``converged``. Each rehearsal arm is paired with the arm of the same memory without rehearsal: the gain in BWT
(paired by seed) with its interval, and whether every fit of both converged.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

from ..config import ConfigError, Params
from ..data.synthetic import flip_bits, rademacher
from ..dynamics import relax
from ..lit.backprop import BackpropModule, Denoising, MemoryMatrix, fit_until_plateau
from ..logs import say
from ..memory import Memory, Separation, build
from ..metrics import binarise, bootstrap_best, exact_recall
from ..parallel import map_fits
from ..rules import Rule, get_rule
from ..schema import (
    FRACTION,
    MAPPING,
    NONNEG_INT,
    POSITIVE,
    POSITIVE_INT,
    STRING,
    Named,
    Section,
    choice,
    integer,
    optional,
    parse,
    setting,
)
from .arms import checked_rule
from .common import SEPARATION, Curves, generator_for, run_stage, select, separation_at, trainer_options

KINDS = ("hopfield", "dense")  # the registry kinds this stage fills
BACKPROP = "backprop"  # the rule name of the arms trained by gradient descent (BackpropModule, not a registry rule)
LAYOUTS = ("split", "permuted")
BOOTSTRAP_SAMPLES = 500
INIT_STD = 0.1  # the start of a backprop memory Ξ: N(0, INIT_STD²), as E8a's random start


@dataclass(frozen=True, kw_only=True)
class Training:
    """One task's backprop fit: Adam at ``lr`` in batches of ``batch_size`` rows, ``steps`` unrolled recall steps of
    gain ``gain`` from ``flip`` of the bits flipped (the section's ``flip``), until the plateau (``window`` updates,
    relative ``tolerance``, or the loss at most ``floor``) or ``cap`` updates; an epoch repeats the rows to hold at
    least ``epoch_updates`` batches (the plateau is read per epoch)."""

    lr: float = setting(POSITIVE)
    batch_size: int = setting(POSITIVE_INT)
    steps: int = setting(POSITIVE_INT)
    gain: float = setting(POSITIVE)
    cap: int = setting(POSITIVE_INT)
    window: int = setting(POSITIVE_INT)
    tolerance: float = setting(POSITIVE)
    floor: float = setting(POSITIVE)
    epoch_updates: int = setting(POSITIVE_INT)


@dataclass(frozen=True, kw_only=True)
class Arm:
    """A memory kind filled task after task by a registry rule (``hyper`` its hyper-parameters) or by backprop;
    ``slots`` K of a dense memory; ``separation`` its F; ``rehearsal`` the patterns of each earlier task replayed
    (backprop only)."""

    name: str
    memory: str = setting(choice(*KINDS))
    rule: str = setting(STRING)
    hyper: dict = setting(MAPPING, {})
    slots: int | None = setting(optional(POSITIVE_INT), None)
    separation: Separation | None = setting(SEPARATION, when=lambda v: v["memory"] == "dense")
    rehearsal: int = setting(NONNEG_INT, 0)

    def checked(self, section: Params) -> Arm:
        """A dense memory needs K slots; only backprop replays; a registry rule must write the memory kind."""
        if self.memory == "dense" and self.slots is None:
            raise ConfigError(section.key("slots"), "K slots (a positive integer) for a dense memory", None)
        if self.rule == BACKPROP:
            if self.memory != "dense":
                raise ConfigError(section.key("memory"), f"dense for rule {BACKPROP}", self.memory)
            return self
        if self.rehearsal:
            raise ConfigError(section.key("rehearsal"), f"0 for an incremental rule (rehearsal: {BACKPROP})", 0)
        checked_rule(section, self.rule, self.hyper, self.memory, None, f"{BACKPROP} or one of")
        return self

    @property
    def locality(self) -> str:
        return "nonlocal" if self.rule == BACKPROP else get_rule(self.rule, **self.hyper).locality


@dataclass(frozen=True, kw_only=True)
class Settings:
    seed: int = setting(NONNEG_INT)
    seeds: int = setting(integer("an integer ≥ 2 (the intervals are over seeds)", lambda v: v >= 2))
    dim: int = setting(POSITIVE_INT)
    tasks: int = setting(integer("an integer ≥ 2", lambda v: v >= 2))
    per_task: int = setting(POSITIVE_INT)
    layout: str = setting(choice(*LAYOUTS))
    flip: float = setting(FRACTION)
    max_sweeps: int = setting(POSITIVE_INT)
    training: Training = setting(Section(Training))
    arms: list[Arm] = setting(Named(Arm, "at least one arm"))
    trainer: dict = field(default_factory=dict)

    def checked(self, section: Params) -> Settings:
        """A replay buffer holds at most a whole task."""
        for arm in self.arms:
            if arm.rehearsal > self.per_task:
                key = section.key(f"arms.{arm.name}.rehearsal")
                raise ConfigError(key, f"at most per_task = {self.per_task} patterns", arm.rehearsal)
        return self


def parse_settings(params: Params) -> Settings:
    """The ``continual`` section read into :class:`Settings`, checked whole before any computation starts."""
    return parse(Settings, params.section("continual"), trainer=trainer_options(params))


# tasks ------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Tasks:
    """The T tasks of one seed: ``patterns`` (T, P, D) ±1 and their ``probes`` (T, P, D), ``flip``·D bits flipped."""

    patterns: torch.Tensor
    probes: torch.Tensor


def draw_tasks(settings: Settings, repetition: int) -> Tasks:
    """The tasks of repetition ``repetition`` (the same for every arm: arms are compared on the same patterns)."""
    generator = generator_for(settings.seed, "tasks", repetition)
    shape = (settings.tasks, settings.per_task, settings.dim)
    if settings.layout == "split":
        patterns = rademacher(settings.tasks * settings.per_task, settings.dim, generator).view(shape)
    else:
        base = rademacher(settings.per_task, settings.dim, generator)
        orders = [torch.randperm(settings.dim, generator=generator) for _ in range(settings.tasks)]
        patterns = torch.stack([base[:, order] for order in orders])
    probes = torch.stack([flip_bits(task, settings.flip, generator) for task in patterns])
    return Tasks(patterns, probes)


def training_rows(patterns: torch.Tensor, current: int, rehearsal: int) -> torch.Tensor:
    """What the fit of task ``current`` sees: its P patterns, then the replay buffer (the first ``rehearsal``
    patterns of every earlier task). (T, P, D) → (P + current·rehearsal, D)."""
    replay = [patterns[task, :rehearsal] for task in range(current)] if rehearsal else []
    return torch.cat([patterns[current], *replay])


def recall_fraction(memory: Memory, patterns: torch.Tensor, probes: torch.Tensor, max_sweeps: int) -> float:
    """The fraction of ``patterns`` (P, D) that synchronous relaxation from their ``probes`` (P, D) ends on."""
    final = binarise(relax(memory, probes, mode="sync", max_sweeps=max_sweeps).states)
    return float(exact_recall(final, patterns).double().mean())


# learning task after task -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Job:
    """One arm on one repetition's tasks (picklable: a worker of ``parallel.map_fits`` receives it whole)."""

    arm: Arm
    repetition: int
    settings: Settings


class Incremental:
    """A registry rule's state written task after task (a slot memory keeps its newest K rows)."""

    def __init__(self, arm: Arm, dim: int):
        self.arm, self.dim = arm, dim
        self.rule: Rule = get_rule(arm.rule, **arm.hyper)
        self.state = self.rule.initial(dim)

    def learn(self, rows: torch.Tensor) -> dict:
        with torch.no_grad():
            self.state = self.rule.step(self.state, rows)
        if self.arm.slots is not None:
            self.state = self.state[-self.arm.slots :]  # full: the oldest rows make room
        return {}

    def memory(self) -> Memory:
        separation = separation_at(self.arm.separation, self.dim)
        return build(self.arm.memory, self.rule.finalize(self.state), self.dim, separation=separation)


class Gradient:
    """A DAM Ξ (K, D) trained by backprop task after task; each task a fresh Adam fit to its plateau."""

    def __init__(self, arm: Arm, dim: int, settings: Settings, seed: int):
        separation = separation_at(arm.separation, dim)
        assert arm.slots is not None and separation is not None  # Arm.checked: a dense backprop arm
        self.trainable = MemoryMatrix(arm.slots, dim, separation, init_std=INIT_STD, seed=seed)
        self.settings, self.seed, self.task = settings, seed, 0

    def learn(self, rows: torch.Tensor) -> dict:
        fit = self.settings.training
        module = BackpropModule(
            self.trainable,
            Denoising(steps=fit.steps, flip=self.settings.flip, gain=fit.gain),
            lr=fit.lr,
            seed=self.seed + 7919 * self.task,
        )
        self.task += 1
        summary = fit_until_plateau(
            module,
            rows,
            fit.batch_size,
            fit.cap,
            fit.window,
            fit.tolerance,
            self.settings.trainer,
            floor=fit.floor,
            updates_per_epoch=fit.epoch_updates,
        )
        return {
            "rows": int(rows.shape[0]),
            "updates": summary["updates"],
            "converged": summary["converged"],
            "loss": round(float(summary["loss"]), 6),
        }

    def memory(self) -> Memory:
        return self.trainable.export()


def learner(job: Job) -> Incremental | Gradient:
    """The arm's memory before the first task."""
    if job.arm.rule == BACKPROP:
        generator = generator_for(job.settings.seed, job.arm.name, job.repetition)
        seed = int(torch.randint(2**31 - 1, (1,), generator=generator))
        return Gradient(job.arm, job.settings.dim, job.settings, seed)
    return Incremental(job.arm, job.settings.dim)


def learn_sequence(job: Job) -> dict:
    """Learn the tasks in order; after each, the recall of every task learned so far. Returns ``recall`` (T, T) with
    R[t][s] the recall of task t after task s (None for s < t), ``fits`` (one entry per task: what its fit reports)
    and ``seconds``."""
    start = time.perf_counter()
    settings, arm = job.settings, job.arm
    tasks = draw_tasks(settings, job.repetition)
    memory = learner(job)
    count = settings.tasks
    recall: list[list[float | None]] = [[None] * count for _ in range(count)]
    fits = []
    for current in range(count):
        fits.append(memory.learn(training_rows(tasks.patterns, current, arm.rehearsal)))
        readable = memory.memory()
        for task in range(current + 1):
            fraction = recall_fraction(readable, tasks.patterns[task], tasks.probes[task], settings.max_sweeps)
            recall[task][current] = round(fraction, 6)
    return {"recall": recall, "fits": fits, "seconds": time.perf_counter() - start}


# summaries --------------------------------------------------------------------------------------------------------
def final_recall(recall: list[list]) -> float:
    """A = mean over tasks of the recall after the last task."""
    return sum(row[-1] for row in recall) / len(recall)


def backward_transfer(recall: list[list]) -> float:
    """BWT = mean over t < T−1 of R[t, T−1] − R[t, t] (negative: what learning the later tasks cost)."""
    earlier = recall[:-1]
    return sum(row[-1] - row[index] for index, row in enumerate(earlier)) / len(earlier)


def interval(values: list[float], generator: torch.Generator) -> dict:
    """The mean over seeds with its 95% bootstrap interval (the seeds resampled)."""
    summary = bootstrap_best([0], [values], BOOTSTRAP_SAMPLES, generator)
    return {"value": summary["value"], "low": summary["low"], "high": summary["high"]}


def summarise(arm: Arm, runs: list[dict], generator: torch.Generator) -> dict:
    """One arm over its seeds: the curves R[t, s] with intervals, A, BWT, task 1 at the end, and its fits."""
    count = len(runs[0]["recall"])
    curves = {
        f"task{task + 1}": {
            f"after{after + 1}": interval([run["recall"][task][after] for run in runs], generator)
            for after in range(task, count)
        }
        for task in range(count)
    }
    entry = {
        "memory": arm.memory,
        "rule": arm.rule,
        "locality": arm.locality,
        "slots": arm.slots,
        "separation": None if arm.separation is None else arm.separation.name,
        "rehearsal": arm.rehearsal,
        "final": interval([final_recall(run["recall"]) for run in runs], generator),
        "bwt": interval([backward_transfer(run["recall"]) for run in runs], generator),
        "first_task_final": interval([run["recall"][0][-1] for run in runs], generator),
        "curves": curves,
    }
    fits = [fit for run in runs for fit in run["fits"] if fit]
    if fits:
        entry["training"] = {
            "fits": len(fits),
            "converged": all(fit["converged"] for fit in fits),
            "unconverged": sum(not fit["converged"] for fit in fits),
            "updates_mean": round(sum(fit["updates"] for fit in fits) / len(fits), 2),
            "updates_max": max(fit["updates"] for fit in fits),
            "loss_max": max(fit["loss"] for fit in fits),
        }
    return entry


def same_memory(one: Arm, other: Arm) -> bool:
    """The same kind, K and F (the separation compared by its name and fields)."""

    def key(arm: Arm) -> tuple:
        separation = None if arm.separation is None else (arm.separation.name, tuple(arm.separation.fields().items()))
        return arm.memory, arm.slots, separation

    return key(one) == key(other)


def rehearsal_effects(settings: Settings, runs: dict[str, list[dict]], arms: dict, generator) -> dict:
    """Each rehearsal arm against the arm of the same memory (kind, K, F) without rehearsal: the gain in BWT and in
    the final recall of task 1, paired by seed, with intervals; ``converged``: every fit of both arms converged."""
    effects = {}
    for arm in settings.arms:
        if arm.rule != BACKPROP or not arm.rehearsal:
            continue
        base = next(
            (
                other
                for other in settings.arms
                if other.rule == BACKPROP and not other.rehearsal and same_memory(other, arm)
            ),
            None,
        )
        if base is None:
            continue
        pairs = list(zip(runs[arm.name], runs[base.name], strict=True))
        effects[arm.name] = {
            "without": base.name,
            "separation": None if arm.separation is None else arm.separation.name,
            "bwt_gain": interval(
                [backward_transfer(a["recall"]) - backward_transfer(b["recall"]) for a, b in pairs], generator
            ),
            "first_task_gain": interval([a["recall"][0][-1] - b["recall"][0][-1] for a, b in pairs], generator),
            "converged": arms[arm.name]["training"]["converged"] and arms[base.name]["training"]["converged"],
        }
    return effects


def curve_rows(arms: dict) -> list[dict]:
    """The forgetting curves as long-format rows: arm, task, after (tasks learned), recall and its interval."""
    rows = []
    for name, entry in arms.items():
        for task, afters in entry["curves"].items():
            for after, value in afters.items():
                rows.append(
                    {
                        "arm": name,
                        "task": int(task.removeprefix("task")),
                        "after": int(after.removeprefix("after")),
                        "recall": value["value"],
                        "low": value["low"],
                        "high": value["high"],
                    }
                )
    return rows


# the stage --------------------------------------------------------------------------------------------------------
def run(settings: Settings, workers: int | None = None) -> tuple[dict, list[dict]]:
    """Every arm on every repetition (``map_fits`` jobs): (record, curve rows)."""
    jobs = [Job(arm, repetition, settings) for arm in settings.arms for repetition in range(settings.seeds)]
    results = map_fits(learn_sequence, jobs, workers)
    runs: dict[str, list[dict]] = {arm.name: [] for arm in settings.arms}
    for job, result in zip(jobs, results, strict=True):
        runs[job.arm.name].append(result)
    arms = {}
    for arm in settings.arms:
        arms[arm.name] = entry = summarise(arm, runs[arm.name], generator_for(settings.seed, arm.name, "bootstrap"))
        seconds = sum(run["seconds"] for run in runs[arm.name])
        say(
            f"continual {arm.name}: final recall {entry['final']['value']} [{entry['final']['low']}, "
            f"{entry['final']['high']}], BWT {entry['bwt']['value']} [{entry['bwt']['low']}, {entry['bwt']['high']}]"
            f" ({seconds:.1f} s of fits)"
        )
    record = {
        "dim": settings.dim,
        "tasks": settings.tasks,
        "per_task": settings.per_task,
        "layout": settings.layout,
        "flip": settings.flip,
        "seeds": settings.seeds,
        "arms": arms,
        "rehearsal_effects": rehearsal_effects(settings, runs, arms, generator_for(settings.seed, "effects")),
    }
    return record, curve_rows(arms)


def compute(settings: Settings, params: Params, tracker) -> dict[str, object]:
    """The record and the forgetting curves."""
    record, curves = run(settings)
    return {"continual.json": record, "continual_curves.json": curves}


def main(args) -> None:
    """``hebbdam continual``: E7, tasks learned one after another (params ``continual``) → continual.json + curves."""
    run_stage(
        args,
        "continual",
        parse_settings,
        compute,
        headline=lambda record: select(
            record, "arms.*.final.value", "arms.*.bwt.value", "rehearsal_effects.*.bwt_gain.value"
        ),
        curves=(Curves("continual_curves.json", x="after", y=("recall",), series=("arm", "task")),),
    )
