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
  denoising loss through unrolled recall (``lit.backprop.Denoising``), each task's fit a fresh Adam run to its plateau
  (``lit.backprop.fit_until_plateau``: the epoch loss flat within ``tolerance`` over ``window`` updates, or the last
  ``window`` updates' mean loss within ``noise`` standard errors of the ``window`` before, ``confirm`` readings in a
  row, or at most ``floor``; else the ``cap`` and ``converged`` false; a loss flat at its first epoch's value is
  ``stalled``, not converged either). With ``rehearsal`` R > 0 the fit of task s also sees a replay buffer: the first R
  patterns of every earlier task (naive rehearsal). ``method`` ``agem`` keeps that buffer as A-GEM's episodic memory
  instead (never trained on: the task's gradient projected where it would raise the buffer's loss), ``gem`` as GEM's,
  one episodic memory per earlier task (the gradient projected onto the cone that raises none of their losses), ``ewc``
  adds elastic weight consolidation (``lit.continual``), ``pseudo`` replays R pseudo-items per earlier task instead of
  stored patterns (pseudorehearsal, Robins 1995: :func:`pseudo_items`, the attractors the memory reaches from random
  states before the task is learned): the methods McAlister et al. compare.

Per arm, over ``seeds`` independent repetitions (each a job of ``parallel.map_fits``: the record is the same for any
number of workers): the forgetting curves R[t, s] (s ≥ t) with 95% intervals (bootstrap over seeds), the average final
recall A = mean_t R[t, T−1], backward transfer BWT = mean_{t<T−1} (R[t, T−1] − R[t, t]) (negative: forgetting), the
recall of task 1 at the end and the recall of each task right after learning it L = mean_t R[t, t] (an arm that learns
nothing forgets nothing), each with its interval; for backprop arms every fit's updates, loss, ``converged`` and
``stalled`` (``training.stalled`` counts them; they are among ``unconverged``). Each rehearsal arm is paired with the
arm of the same memory without rehearsal: the gain in BWT (paired by seed) with its interval, what the gain is made of
(the final recall of the replayed patterns, and the gain on the earlier tasks' patterns the buffer never replayed: a
buffer that keeps only itself gains exactly its share R/P), and whether every fit of both converged. Each A-GEM, GEM,
EWC and pseudorehearsal arm is paired with the plain arm of the same memory (``method_effects``: the gains in BWT, A, L
and task 1's final recall). Across the power n (McAlister et al. report transitions in the DAM's behaviour with n): per
buffer size and method, the backprop arm of the highest n against the lowest, the change in BWT, A and L paired by seed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from ..config import Params
from ..data.synthetic import flip_bits, rademacher
from ..dynamics import relax
from ..lit.backprop import BackpropModule, Denoising, MemoryMatrix, fit_until_plateau
from ..lit.continual import ElasticAnchor, EpisodicConstraints, diagonal_fisher, trained
from ..logs import say
from ..memory import Memory, build
from ..metrics import binarise, bootstrap_best, exact_recall
from ..parallel import map_fits
from ..rules import Rule, get_rule
from ..settings import continual as schema
from ..settings.continual import (
    AGEM,
    BACKPROP,
    BOOTSTRAP_SAMPLES,
    EWC,
    GEM,
    INIT_STD,
    PLAIN,
    PSEUDO,
    Arm,
    Settings,
    Training,  # noqa: F401  (re-exported: the stage reads as before)
)
from .common import Curves, built, generator_for, run_stage, select, separation_at


def parse_settings(params: Params) -> Settings:
    """The settings of :mod:`hebbdam.settings.continual`, checked whole before any work, with their separations
    built."""
    return built(schema.parse_settings(params))


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


def buffer_rows(patterns: torch.Tensor, current: int, rehearsal: int) -> torch.Tensor:
    """The buffer at task ``current``: the first ``rehearsal`` patterns of every earlier task (replayed, or A-GEM's
    episodic memory). (T, P, D) → (current·rehearsal, D), empty without rehearsal."""
    return patterns[:current, :rehearsal].reshape(-1, patterns.shape[2])


def settled(memory: Memory, states: torch.Tensor, max_sweeps: int) -> torch.Tensor:
    """Where synchronous relaxation (at most ``max_sweeps``) from ``states`` (B, D) ends, read out as ±1: (B, D)."""
    return binarise(relax(memory, states, mode="sync", max_sweeps=max_sweeps).states)


def recall_flags(memory: Memory, patterns: torch.Tensor, probes: torch.Tensor, max_sweeps: int) -> torch.Tensor:
    """Which of ``patterns`` (P, D) synchronous relaxation from their ``probes`` (P, D) ends on: (P,) bool."""
    return exact_recall(settled(memory, probes, max_sweeps), patterns)


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

    def learn(self, task: torch.Tensor, buffer: torch.Tensor) -> dict:
        """Write the task's rows (P, D) (an incremental rule replays nothing: ``buffer`` is empty)."""
        with torch.no_grad():
            self.state = self.rule.step(self.state, task)
        if self.arm.slots is not None:
            self.state = self.state[-self.arm.slots :]  # full: the oldest rows make room
        return {}

    def memory(self) -> Memory:
        separation = separation_at(self.arm.separation, self.dim)
        return build(self.arm.memory, self.rule.finalize(self.state), self.dim, separation=separation)


class Gradient:
    """A DAM Ξ (K, D) trained by backprop task after task; each task a fresh Adam fit to its plateau, on the task's
    rows and the replayed buffer (``plain``), on the task's rows with A-GEM's projection against the buffer
    (``agem``) or GEM's against each earlier task's part of it (``gem``), or on the task's rows with the elastic
    anchor of the tasks before (``ewc``; its Fisher information summed over the tasks learned, each at its end: online
    EWC)."""

    def __init__(self, arm: Arm, dim: int, settings: Settings, seed: int):
        separation = separation_at(arm.separation, dim)
        assert arm.slots is not None and separation is not None  # Arm.checked: a dense backprop arm
        self.trainable = MemoryMatrix(arm.slots, dim, separation, init_std=INIT_STD, seed=seed)
        self.arm, self.settings, self.seed, self.task = arm, settings, seed, 0
        self.lr = settings.training.lr if arm.lr is None else arm.lr
        self.anchor: list[torch.Tensor] | None = None
        self.importance: list[torch.Tensor] | None = None

    def objective(self, buffer: torch.Tensor):
        """The task's objective: the denoising loss, wrapped by the arm's method."""
        fit = self.settings.training
        denoising = Denoising(steps=fit.steps, flip=self.settings.flip, gain=fit.gain)
        if self.arm.method == AGEM:  # one constraint: the buffer whole
            return EpisodicConstraints(denoising, [buffer], name=AGEM)
        if self.arm.method == GEM:  # the buffer holds R rows per earlier task, in task order: one constraint each
            return EpisodicConstraints(denoising, list(buffer.split(self.arm.rehearsal)), name=GEM)
        if self.arm.method == EWC:
            return ElasticAnchor(denoising, self.arm.strength, self.anchor, self.importance)
        return denoising

    def learn(self, task: torch.Tensor, buffer: torch.Tensor) -> dict:
        """Fit task ``task`` (P, D) with the ``buffer`` (B, D) of the earlier tasks' first patterns (method
        ``pseudo``: B pseudo-items of the memory as it is instead)."""
        fit = self.settings.training
        objective = self.objective(buffer)
        if self.arm.method == PSEUDO:
            buffer = pseudo_items(
                self.memory(), buffer.shape[0], self.settings.max_sweeps, self.seed + 7919 * self.task + 2
            )
        rows = torch.cat([task, buffer]) if self.arm.method in (PLAIN, PSEUDO) else task
        module = BackpropModule(self.trainable, objective, lr=self.lr, seed=self.seed + 7919 * self.task)
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
            noise=fit.noise,
            confirm=fit.confirm,
            restarts=fit.restarts,
        )
        if self.arm.method == EWC:
            self.consolidate(task, objective)
        return {
            "lr": self.lr,
            "rows": int(rows.shape[0]),
            "updates": summary["updates"],
            "converged": summary["converged"],
            "stalled": summary["stalled"],
            "loss": round(float(summary["loss"]), 6),
            "restarts": summary.get("restarts", 0),
        }

    def consolidate(self, task: torch.Tensor, objective: ElasticAnchor) -> None:
        """After a task: its Fisher information added to the importance, the anchor moved to the parameters now."""
        generator = torch.Generator().manual_seed(self.seed + 7919 * self.task + 1)
        fisher = diagonal_fisher(objective.objective, self.trainable, task, generator)
        previous = self.importance or [torch.zeros_like(f) for f in fisher]
        self.importance = [old + new for old, new in zip(previous, fisher, strict=True)]
        self.anchor = [parameter.detach().clone() for parameter in trained(self.trainable)]

    def memory(self) -> Memory:
        return self.trainable.export()


def pseudo_items(memory: Memory, count: int, max_sweeps: int, seed: int) -> torch.Tensor:
    """Pseudorehearsal's items (Robins 1995): ``count`` random ±1 states relaxed synchronously in ``memory`` (at most
    ``max_sweeps``), read out as ±1: (count, D), what the memory returns, standing in for the patterns it learned."""
    generator = torch.Generator().manual_seed(seed)
    starts = rademacher(count, memory.dim, generator)
    return settled(memory, starts, max_sweeps)


def learner(job: Job) -> Incremental | Gradient:
    """The arm's memory before the first task."""
    if job.arm.rule == BACKPROP:
        generator = generator_for(job.settings.seed, job.arm.name, job.repetition)
        seed = int(torch.randint(2**31 - 1, (1,), generator=generator))
        return Gradient(job.arm, job.settings.dim, job.settings, seed)
    return Incremental(job.arm, job.settings.dim)


def learn_sequence(job: Job) -> dict:
    """Learn the tasks in order; after each, the recall of every task learned so far. Returns ``recall`` (T, T) with
    R[t][s] the recall of task t after task s (None for s < t), ``final`` (T, P) 0/1: which patterns of each task
    are recalled after the last task, ``fits`` (one entry per task: what its fit reports) and ``seconds``."""
    start = time.perf_counter()
    settings, arm = job.settings, job.arm
    tasks = draw_tasks(settings, job.repetition)
    memory = learner(job)
    count = settings.tasks
    recall: list[list[float | None]] = [[None] * count for _ in range(count)]
    fits: list[dict] = []
    final: list[torch.Tensor] = []
    for current in range(count):
        fits.append(memory.learn(tasks.patterns[current], buffer_rows(tasks.patterns, current, arm.rehearsal)))
        readable = memory.memory()
        final = [
            recall_flags(readable, tasks.patterns[task], tasks.probes[task], settings.max_sweeps)
            for task in range(current + 1)
        ]
        for task, flags in enumerate(final):
            recall[task][current] = round(float(flags.double().mean()), 6)
    kept = [[int(flag) for flag in task] for task in final]
    return {"recall": recall, "final": kept, "fits": fits, "seconds": time.perf_counter() - start}


# summaries --------------------------------------------------------------------------------------------------------
def final_recall(recall: list[list]) -> float:
    """A = mean over tasks of the recall after the last task."""
    return sum(row[-1] for row in recall) / len(recall)


def just_learned(recall: list[list]) -> float:
    """L = mean over tasks of R[t, t], the recall of each task right after learning it (an arm that learns nothing
    forgets nothing: its BWT 0 reads as no forgetting only beside L)."""
    return sum(row[index] for index, row in enumerate(recall)) / len(recall)


def backward_transfer(recall: list[list]) -> float:
    """BWT = mean over t < T−1 of R[t, T−1] − R[t, t] (negative: what learning the later tasks cost)."""
    earlier = recall[:-1]
    return sum(row[-1] - row[index] for index, row in enumerate(earlier)) / len(earlier)


def earlier_recall(final: list[list[int]], replayed: int, buffer: bool) -> float | None:
    """The recall after the last task of the earlier tasks' patterns a buffer of ``replayed`` per task holds
    (``buffer``: the first ``replayed`` of each task) or never holds (the rest); ``final`` (T, P) 0/1. None when that
    set is empty (a buffer of whole tasks has no rest)."""
    chosen = [flag for task in final[:-1] for flag in (task[:replayed] if buffer else task[replayed:])]
    return sum(chosen) / len(chosen) if chosen else None


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
        "separation_fields": None if arm.separation is None else arm.separation.fields(),
        "rehearsal": arm.rehearsal,
        "method": arm.method,
        "strength": arm.strength,
        "final": interval([final_recall(run["recall"]) for run in runs], generator),
        "bwt": interval([backward_transfer(run["recall"]) for run in runs], generator),
        "first_task_final": interval([run["recall"][0][-1] for run in runs], generator),
        "learned": interval([just_learned(run["recall"]) for run in runs], generator),
        "curves": curves,
    }
    fits = [fit for run in runs for fit in run["fits"] if fit]
    if fits:
        entry["training"] = {
            "lr": fits[0]["lr"],
            "fits": len(fits),
            "converged": all(fit["converged"] for fit in fits),
            "unconverged": sum(not fit["converged"] for fit in fits),
            "stalled": sum(fit["stalled"] for fit in fits),
            "updates_mean": round(sum(fit["updates"] for fit in fits) / len(fits), 2),
            "updates_max": max(fit["updates"] for fit in fits),
            "loss_max": max(fit["loss"] for fit in fits),
            "restarts": sum(fit["restarts"] for fit in fits),
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
    the final recall of task 1, paired by seed, with intervals; ``buffer_final`` / ``beyond_final``: the rehearsal
    arm's final recall of the earlier tasks' replayed patterns and of the rest, and ``beyond_gain`` the gain on that
    rest (patterns never replayed: what rehearsal keeps besides its own buffer; None when the buffer holds whole
    tasks); ``converged``: every fit of both arms converged."""
    effects = {}
    for arm in settings.arms:
        if arm.rule != BACKPROP or not arm.rehearsal or arm.method != PLAIN:
            continue
        base = unprotected(settings, arm)
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
            **buffer_split(arm.rehearsal, pairs, generator),
        }
    return effects


def unprotected(settings: Settings, arm: Arm) -> Arm | None:
    """The backprop arm of the same memory (kind, K, F) with no replay and no method (``plain``), if any."""
    return next(
        (
            other
            for other in settings.arms
            if other.rule == BACKPROP and not other.rehearsal and other.method == PLAIN and same_memory(other, arm)
        ),
        None,
    )


def paired_changes(pairs: list[tuple[dict, dict]], generator: torch.Generator, suffix: str) -> dict:
    """BWT, A and L of the first run of each (run, run) pair of one seed minus the second's, with intervals:
    {bwt_<suffix>, final_<suffix>, learned_<suffix>}."""
    measures = (("bwt", backward_transfer), ("final", final_recall), ("learned", just_learned))
    return {
        f"{name}_{suffix}": interval([measure(a["recall"]) - measure(b["recall"]) for a, b in pairs], generator)
        for name, measure in measures
    }


def method_effects(settings: Settings, runs: dict[str, list[dict]], arms: dict, generator: torch.Generator) -> dict:
    """Each A-GEM, GEM, EWC and pseudorehearsal arm against the arm of the same memory trained plainly (no replay): the
    gain in BWT, in the average final recall A, in the recall right after learning L (a method that stops learning
    forgets less) and in the final recall of task 1, paired by seed, with intervals; ``converged``: every fit of both
    converged."""
    effects = {}
    for arm in settings.arms:
        base = unprotected(settings, arm) if arm.rule == BACKPROP and arm.method != PLAIN else None
        if base is None:
            continue
        pairs = list(zip(runs[arm.name], runs[base.name], strict=True))
        effects[arm.name] = {
            "without": base.name,
            "method": arm.method,
            **paired_changes(pairs, generator, "gain"),
            "first_task_gain": interval([a["recall"][0][-1] - b["recall"][0][-1] for a, b in pairs], generator),
            "converged": arms[arm.name]["training"]["converged"] and arms[base.name]["training"]["converged"],
        }
    return effects


def buffer_split(replayed: int, pairs: list[tuple[dict, dict]], generator: torch.Generator) -> dict:
    """What a rehearsal gain is made of, over (rehearsal run, run without) pairs of one seed each: the rehearsal
    arm's final recall of the earlier tasks' replayed patterns (``buffer_final``), of the rest (``beyond_final``),
    and the gain on the rest against the arm without rehearsal (``beyond_gain``); the last two None when the buffer
    holds whole tasks."""
    buffer = every([earlier_recall(a["final"], replayed, buffer=True) for a, _ in pairs])
    kept = every([earlier_recall(a["final"], replayed, buffer=False) for a, _ in pairs])
    lost = every([earlier_recall(b["final"], replayed, buffer=False) for _, b in pairs])
    split: dict = {"buffer_final": interval(buffer, generator), "beyond_final": None, "beyond_gain": None}
    if kept and lost:
        split["beyond_final"] = interval(kept, generator)
        split["beyond_gain"] = interval([a - b for a, b in zip(kept, lost, strict=True)], generator)
    return split


def every(values: list[float | None]) -> list[float]:
    """``values`` when none is None, else [] (a split with an empty side on one seed has it empty on every seed)."""
    return [value for value in values if value is not None] if None not in values else []


def vertex_effects(settings: Settings, runs: dict[str, list[dict]], arms: dict, generator: torch.Generator) -> dict:
    """How forgetting moves with the power n: per group of backprop arms with the same K, buffer, method and
    rectification (at least two powers), the arm of the highest n against the arm of the lowest, paired by seed:
    the change in BWT, in the average final recall A and in the recall right after learning L (a power that learns
    nothing also forgets nothing), with intervals, and whether every fit of both converged; keyed "<high>_vs_<low>"."""
    groups: dict[tuple, list[Arm]] = {}
    for arm in settings.arms:
        fields = {} if arm.separation is None else arm.separation.fields()
        if arm.rule == BACKPROP and "n" in fields:
            groups.setdefault((arm.slots, arm.rehearsal, arm.method, fields["rectified"]), []).append(arm)
    effects = {}
    for members in groups.values():
        ordered = sorted(members, key=lambda arm: arm.separation.fields()["n"])
        low, high = ordered[0], ordered[-1]
        if low.separation.fields()["n"] == high.separation.fields()["n"]:
            continue
        pairs = list(zip(runs[high.name], runs[low.name], strict=True))
        effects[f"{high.name}_vs_{low.name}"] = {
            "high": high.name,
            "low": low.name,
            "n_high": high.separation.fields()["n"],
            "n_low": low.separation.fields()["n"],
            "rehearsal": high.rehearsal,
            "method": high.method,
            **paired_changes(pairs, generator, "change"),
            "converged": arms[high.name]["training"]["converged"] and arms[low.name]["training"]["converged"],
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
        "vertex_effects": vertex_effects(settings, runs, arms, generator_for(settings.seed, "vertex")),
        "method_effects": method_effects(settings, runs, arms, generator_for(settings.seed, "methods")),
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
            record,
            "arms.*.final.value",
            "arms.*.bwt.value",
            "rehearsal_effects.*.bwt_gain.value",
            "method_effects.*.bwt_gain.value",
        ),
        curves=(Curves("continual_curves.json", x="after", y=("recall",), series=("arm", "task")),),
    )
