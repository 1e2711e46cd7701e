"""``hebbdam breaks [NAME …] [jobs=N]``: plant each known break in a scratch copy, run only the ci stages it touches,
and require the regression gate to fail it by metrics.

A break is a source patch (exact text → broken text, each applied exactly once, so a patch that no longer applies is
itself a failure, never a silent pass) and the stages whose records it must move. Each break runs in its own scratch
copy of the working tree (tracked and untracked-not-ignored files, like ``.ci/pipeline``), composed with the ci profile,
its stages run by ``hebbdam run-pipeline``; the records those stages write are gated against
``reports/ci-baseline/`` (only those records: the copy's other records are the laptop's). The ``nan_record`` break
runs nothing: it gates the baseline's own records with every number set to NaN. ``jobs`` breaks run at once (default:
the cores), each stage with one thread per job.

Exit 0 when every break fails the gate by at least one metric (the count per break is printed); exit 2 otherwise.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from . import gate, io
from .errors import HebbdamError
from .logs import say
from .stages import STAGES

REPO = Path(__file__).resolve().parents[2]
DATA_STAGES = ("download", "prepare")


@dataclass(frozen=True)
class Break:
    """A planted break: ``patches`` (file, exact text, broken text) and the ci ``stages`` it must fail, each
    "stage" or "stage item" (one item of a foreach stage, e.g. "ladder backprop")."""

    name: str
    what: str
    patches: tuple[tuple[str, str, str], ...]
    stages: tuple[str, ...]


BREAKS = (
    Break(
        "clipped_hebb",
        "Hebbian synapses clipped to their sign (W ← sign W)",
        (
            (
                "src/hebbdam/rules/hebbian.py",
                "    return counts / counts.shape[0]",
                "    return torch.sign(counts) / counts.shape[0]",
            ),
        ),
        ("capacity",),
    ),
    Break(
        "backprop_maximize",
        "backprop with Adam maximize=True (gradient ascent on the loss)",
        (
            (
                "src/hebbdam/lit/backprop.py",
                "CpuAdam(self.memory.parameters(), lr=self.lr)",
                "CpuAdam(self.memory.parameters(), lr=self.lr, maximize=True)",
            ),
        ),
        ("ladder backprop", "budget_patterns"),  # the ladder alone: 3 trials, within seed noise at ci sizes
    ),
    Break(
        "backprop_lr_1e6",
        "backprop with lr = 1e6",
        (
            (
                "src/hebbdam/lit/backprop.py",
                "self.lr, self.optimizer_name, self.momentum, self.anneal, self.seed = lr,",
                "self.lr, self.optimizer_name, self.momentum, self.anneal, self.seed = 1e6,",
            ),
        ),
        ("ladder backprop", "budget_patterns"),
    ),
    Break(
        "delta_no_subtraction",
        "the delta rule without its subtraction (M += β k̂ᵀ v: a sum rule)",
        (
            ("src/hebbdam/memory/mixers.py", 'error = v - torch.einsum("bp,bpv->bv", fk, memory)', "error = v"),
            ("src/hebbdam/memory/mixers.py", "bc * (vc - kc @ memory)", "bc * vc"),
        ),
        ("recall",),
    ),
    Break(
        "slots_half",
        "slot memories keeping only half of the patterns (K/2)",
        (
            (
                "src/hebbdam/rules/hebbian.py",
                "return torch.cat([memories, patterns], dim=0)",
                "return torch.cat([memories, patterns[: (patterns.shape[0] + 1) // 2]], dim=0)",
            ),
        ),
        ("capacity",),
    ),
    Break(
        "willshaw_unclipped",
        "Willshaw synapses that count co-activations instead of clipping at 1",
        (
            (
                "src/hebbdam/rules/sparse.py",
                "(weights.double() + products).clamp(max=1.0)",
                "(weights.double() + products)",
            ),
        ),
        ("sparse",),
    ),
    Break(
        "bcpnn_no_log",
        "BCPNN weights p_ij/(p_i p_j) and biases p_j without their logarithm",
        (("src/hebbdam/memory/sparse.py", "    return ratio.log(), p.log()", "    return ratio, p"),),
        ("sparse",),
    ),
    Break(
        "rehearsal_empty",
        "E7's buffer silently empty: a rehearsal arm trains on the current task alone (and A-GEM has no memory)",
        (
            (
                "src/hebbdam/experiments/continual.py",
                "    return patterns[:current, :rehearsal].reshape(-1, patterns.shape[2])",
                "    return patterns[:0, :rehearsal].reshape(-1, patterns.shape[2])",
            ),
        ),
        ("continual",),
    ),
    Break(
        "pseudo_unrelaxed",
        "E7's pseudo-items are the random starts themselves, never relaxed in the memory (noise replayed, not recall)",
        (
            (
                "src/hebbdam/experiments/continual.py",
                "    return settled(memory, starts, max_sweeps)",
                "    return starts",
            ),
        ),
        ("continual",),
    ),
    Break("nan_record", "every number of capacity.json and recall.json set to NaN", (), ()),
)


@dataclass(frozen=True)
class Outcome:
    name: str
    failed_metrics: int
    gated_metrics: int
    failed_orderings: int
    seconds: float
    note: str = ""

    @property
    def caught(self) -> bool:
        return self.failed_metrics > 0


# ----------------------------------------------------------------------------------------------------- scratch


def copy_tree(destination: Path, repo: Path = REPO) -> Path:
    """What the next commit of ``repo`` would hold (tracked and untracked-not-ignored files) at ``destination``."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=repo,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (entry.decode() for entry in listed)):
        source = repo / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


def apply(root: Path, patches: tuple[tuple[str, str, str], ...]) -> None:
    """Each patch's exact text must occur once in its file (else the break is stale: HebbdamError)."""
    for name, old, new in patches:
        path = root / name
        text = path.read_text(encoding="utf-8")
        if text.count(old) != 1:
            raise HebbdamError(f"break patch for {name} is stale: {old!r} occurs {text.count(old)} times (not once)")
        path.write_text(text.replace(old, new), encoding="utf-8")


def stage_of(word: str):
    """("ladder backprop") → (the Stage, "backprop"); ("capacity") → (the Stage, None)."""
    name, _, item = word.partition(" ")
    stage = next((s for s in STAGES if s.name == name), None)
    if stage is None or bool(item) != bool(stage.foreach) or (item and item not in stage.foreach):
        raise HebbdamError(f"breaks: '{word}' is not a stage (or 'stage item' of a foreach stage)")
    return stage, item or None


def run_stages(root: Path, stage_words: tuple[str, ...], threads: int) -> None:
    """Compose the ci profile in ``root`` and run the stages (the data stages first when one reads data)."""
    env = {
        **os.environ,
        "PYTHONPATH": str(root / "src"),
        "WANDB_MODE": "disabled",
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
    }
    stages = [stage_of(word) for word in stage_words]
    argvs = [["compose", "profile=ci"]]
    if any(stage.reads_data for stage, _ in stages):
        argvs.append(["run-pipeline", *DATA_STAGES])
    argvs += [[stage.command, *([item] if item else [])] for stage, item in stages]
    for argv in argvs:
        result = subprocess.run(
            [sys.executable, "-m", "hebbdam.cli", *argv], cwd=root, env=env, capture_output=True, text=True
        )
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise HebbdamError(f"`hebbdam {' '.join(argv)}` failed in the break's copy: {last}")


def records_of(stage_words: tuple[str, ...]) -> list[str]:
    """The gated record files (reports/metrics/<name>.json) the stages write."""
    names = []
    for word in stage_words:
        stage, item = stage_of(word)
        names += [record.replace("${item}", item or "") for record in stage.records]
    return names


def gate_records(baseline: Path, metrics: Path, files: list[str]) -> tuple[int, int, int]:
    """(failed metrics, gated metrics, failed orderings) of ``files`` of ``metrics`` against ``baseline``; an
    ordering counts only when both its sides are in ``files``."""
    with tempfile.TemporaryDirectory(prefix="hebbdam-break-gate.") as folder:
        base = Path(folder)
        for name in (*files, gate.TOLERANCES_FILE, gate.SPREAD_FILE):
            if (baseline / name).is_file():
                shutil.copy(baseline / name, base / name)
        if (baseline / gate.TOLERANCES_DIR).is_dir():  # each experiment's bands (tolerances/<stage>.yaml)
            shutil.copytree(baseline / gate.TOLERANCES_DIR, base / gate.TOLERANCES_DIR)
        checks = gate.compare(base, metrics)
        tolerances = gate.load_tolerances(base)
    ours = [o for o in tolerances.orderings if all(side.split(":")[0] in files for side in gate.ordering_sides(o))]
    orderings = gate.check_orderings(gate.Tolerances(tolerances.multiple, [], ours), gate.read_records(metrics))
    return sum(not c.passed for c in checks), len(checks), sum(not c.passed for c in orderings)


def nan_everything(node: object) -> object:
    if isinstance(node, dict):
        return {k: nan_everything(v) for k, v in node.items()}
    if isinstance(node, int | float) and not isinstance(node, bool):
        return math.nan
    return node


def run_break(item: Break, baseline: Path, threads: int) -> Outcome:
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"hebbdam-break-{item.name}.") as folder:
        root = Path(folder)
        try:
            if item.name == "nan_record":
                files = ["capacity.json", "recall.json"]
                metrics = root / "metrics"
                metrics.mkdir()
                for name in files:  # json writes NaN as NaN: what a record without io's check would hold
                    record = nan_everything(io.read_json(baseline / name))
                    (metrics / name).write_text(json.dumps(record), encoding="utf-8")
            else:
                copy_tree(root)
                apply(root, item.patches)
                run_stages(root, item.stages, threads)
                files, metrics = records_of(item.stages), root / "reports" / "metrics"
            failed, gated, orderings = gate_records(baseline, metrics, files)
        except HebbdamError as err:
            return Outcome(item.name, 0, 0, 0, time.perf_counter() - start, str(err))
    return Outcome(item.name, failed, gated, orderings, time.perf_counter() - start)


def main(args) -> None:
    words = list(args.words)
    jobs = gate.parse_jobs(words) if any(w.startswith("jobs=") for w in words) else (os.cpu_count() or 1)
    names = [w for w in words if not w.startswith("jobs=")]
    known = {b.name: b for b in BREAKS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise HebbdamError(f"breaks: unknown break {', '.join(unknown)} (valid: {', '.join(known)})")
    chosen = [known[n] for n in names] or list(BREAKS)
    baseline = Path(args.baseline or REPO / "reports" / "ci-baseline")
    threads = max(1, (os.cpu_count() or 1) // jobs)
    say(f"breaks: {len(chosen)} planted breaks, {jobs} at a time, {threads} thread(s) each")
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        outcomes = list(pool.map(lambda b: run_break(b, baseline, threads), chosen))
    print(f"{'break':<22} {'failed metrics':>14} {'of gated':>9} {'orderings':>9} {'seconds':>8}  result")
    for o in outcomes:
        result = "red (caught)" if o.caught else f"GREEN: not caught{': ' + o.note if o.note else ''}"
        counts = f"{o.failed_metrics:>14} {o.gated_metrics:>9} {o.failed_orderings:>9} {o.seconds:>8.0f}"
        print(f"{o.name:<22} {counts}  {result}")
    missed = [o.name for o in outcomes if not o.caught]
    if missed:
        raise HebbdamError(f"breaks: the gate stays green on {len(missed)} planted break(s): {', '.join(missed)}")
    say(f"breaks: every one of {len(outcomes)} planted breaks turns the gate red by metrics")
