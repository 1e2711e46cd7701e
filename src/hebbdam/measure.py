"""``hebbdam measure [exp-show|install|suite …]``: the figures the README quotes, measured, never typed.

Each part writes its numbers (and when and where they were measured) into ``reports/measured.json``; then every
``<!-- measured:KEY -->…<!-- /measured -->`` span of README.md is rewritten from that file, so the text and the
measurement cannot drift apart (a test compares them).

- ``exp-show``: in a scratch git copy of the working tree (placeholder data, every stage committed, so nothing is
  stale), run one small capacity experiment (``dvc exp run capacity -S …``: fewer trials, a smaller grid), then the
  widest line of ``dvc exp show --only-changed`` with and without the README's ``--drop``. A queued experiment is no
  measure: it has no metrics yet, so every metric column shows as changed.
- ``install``: the size of the installed environment (every file under ``sys.prefix``), in MiB.
- ``suite``: the whole test suite as ``make test`` runs it (``pytest -q``, W&B disabled): wall seconds and counts.
- ``compose``: ``hebbdam compose --cfg`` (the composition and its whole check, as ``dvc exp run -S`` runs them) in
  ``COMPOSE_RUNS`` fresh interpreters: the median wall and CPU seconds of one.
- ``devices``: the whole ci capacity stage on one device (one process) and with ``trainer.devices=2`` (two stage-long
  CPU workers): the wall seconds of each, their ratio, and whether the two wrote the same record, curves and headline
  byte for byte.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path

from . import io
from .breaks import copy_tree
from .config import REPO_ROOT
from .errors import HebbdamError
from .logs import say

MEASURED = REPO_ROOT / "reports" / "measured.json"
README = REPO_ROOT / "README.md"
DROP = r"Created|State|Executor|.*\.arms\..*"  # the README's `dvc exp show --drop`
EXPERIMENT = ["-S", "capacity.trials=1", "-S", "capacity.arms.hebb_async.dims=[50,100]"]  # about a minute
SPAN = re.compile(r"<!-- measured:(?P<key>[a-z_.]+) -->(?P<value>.*?)<!-- /measured -->")


def _run(argv: list[str], cwd: Path, **env: str) -> str:
    if argv[0] == "dvc":  # the venv's dvc, whatever PATH says (pytest run outside make)
        argv = [str(Path(sys.executable).with_name("dvc")), *argv[1:]]
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env={**os.environ, **env}, check=False)
    if result.returncode != 0:
        raise HebbdamError(f"measure: `{' '.join(argv)}` failed ({result.stderr.strip().splitlines()[-1:]})")
    return result.stdout


def scratch_repository(target: Path, root: Path = REPO_ROOT) -> Path:
    """What the next commit of ``root`` would hold, at ``target`` as a git repository with one commit (DVC experiments
    need a HEAD), placeholder data/ and every stage recorded by ``dvc commit``: nothing is stale until a file
    changes (the probes of tests/test_stale_stages.py use it too)."""
    copy_tree(target, root)
    for folder in ("data/raw", "data/processed"):  # hashed as dependencies, never read by the capacity stage
        (target / folder).mkdir(parents=True, exist_ok=True)
        (target / folder / "placeholder").write_text(folder)
    identity = ["-c", "user.name=hebbdam", "-c", "user.email=hebbdam@localhost"]
    _run(["git", "init", "-q"], target)
    _run(["dvc", "commit", "--force", "--quiet"], target)
    _run(["git", "add", "-A"], target)
    _run(["git", *identity, "commit", "-q", "-m", "measure"], target)
    return target


def widest_line(text: str) -> int:
    """Characters in the longest line of a printed table (trailing spaces not counted)."""
    return max((len(line.rstrip()) for line in text.splitlines()), default=0)


def measure_exp_show() -> dict[str, int]:
    with tempfile.TemporaryDirectory(prefix="hebbdam-measure.") as folder:
        repo = scratch_repository(Path(folder))
        _run(["dvc", "exp", "run", "-n", "small", "capacity", *EXPERIMENT], repo, WANDB_MODE="disabled")
        show = ["dvc", "exp", "show", "--only-changed", "--no-pager"]
        wide = {"COLUMNS": "100000"}  # rich draws the table at its natural width, not the terminal's
        return {
            "exp_show_columns": widest_line(_run([*show, "--drop", DROP], repo, **wide)),
            "exp_show_columns_undropped": widest_line(_run(show, repo, **wide)),
        }


def measure_install() -> dict[str, float]:
    size = sum(p.stat().st_size for p in Path(sys.prefix).rglob("*") if p.is_file() and not p.is_symlink())
    return {"install_mib": round(size / 2**20)}


def pytest_counts(summary: str) -> dict[str, int]:
    """``520 passed, 1 skipped in 506.2s`` → {"passed": 520, "skipped": 1}."""
    return {
        word: int(count) for count, word in re.findall(r"(\d+) (passed|failed|skipped|deselected|errors?)", summary)
    }


def measure_suite() -> dict[str, object]:
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "WANDB_MODE": "disabled"},
        check=False,
    )
    wall = time.perf_counter() - start
    counts = pytest_counts((result.stdout.strip().splitlines() or [""])[-1])
    if result.returncode != 0 or not counts.get("passed"):
        raise HebbdamError(f"measure: the test suite failed ({counts}); nothing recorded")
    return {"suite_minutes": round(wall / 60, 1), "suite_passed": counts["passed"]}


COMPOSE_RUNS = 5


def measure_compose(runs: int = COMPOSE_RUNS) -> dict[str, float]:
    """Median wall and CPU (user + system) seconds of ``hebbdam compose --cfg`` in a fresh interpreter."""
    walls, cpus = [], []
    for _ in range(runs):
        before, start = os.times(), time.perf_counter()
        _run([sys.executable, "-m", "hebbdam.cli", "compose", "--cfg"], REPO_ROOT)
        after = os.times()
        walls.append(time.perf_counter() - start)
        cpus.append(after.children_user - before.children_user + after.children_system - before.children_system)
    return {
        "compose_seconds": round(sorted(walls)[runs // 2], 2),
        "compose_cpu_seconds": round(sorted(cpus)[runs // 2], 2),
    }


DEVICE_OUTPUTS = ("capacity.json", "capacity_curves.json", "headline/capacity.json")


def _capacity_stage(overrides: list[str], out: Path, workers: str | None) -> float:
    """Wall seconds of ``hebbdam capacity`` on the composition of conf/ with ``overrides``, writing into ``out``."""
    from .composition import compose

    params = out.with_suffix(".yaml")
    params.write_text(compose(overrides, config_dir=REPO_ROOT / "conf", selection=False), encoding="utf-8")
    env = {"WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1"}
    if workers is not None:
        env["HEBBDAM_WORKERS"] = workers
    start = time.perf_counter()
    _run(
        [sys.executable, "-m", "hebbdam.cli", "capacity", "--params", str(params), "--out", str(out)], REPO_ROOT, **env
    )
    return time.perf_counter() - start


def measure_devices() -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="hebbdam-measure.") as folder:
        one = _capacity_stage(["profile=ci"], Path(folder) / "one", "1")
        two = _capacity_stage(["profile=ci", "trainer.devices=2"], Path(folder) / "two", None)
        same = all(
            (Path(folder) / "one" / name).read_bytes() == (Path(folder) / "two" / name).read_bytes()
            for name in DEVICE_OUTPUTS
        )
    return {
        "devices_one_seconds": round(one, 1),
        "devices_two_seconds": round(two, 1),
        "devices_speedup": round(one / two, 2),
        "devices_identical": "byte-identical" if same else "DIFFERENT",
    }


PARTS: dict[str, Callable[[], Mapping[str, object]]] = {
    "compose": measure_compose,
    "devices": measure_devices,
    "exp-show": measure_exp_show,
    "install": measure_install,
    "suite": measure_suite,
}
PART_KEYS = {
    "compose": ("compose_seconds", "compose_cpu_seconds"),
    "devices": ("devices_one_seconds", "devices_two_seconds", "devices_speedup", "devices_identical"),
    "exp-show": ("exp_show_columns", "exp_show_columns_undropped"),
    "install": ("install_mib",),
    "suite": ("suite_minutes", "suite_passed"),
}


def fill(text: str, measured: dict[str, object]) -> str:
    """Every measured span of ``text`` with its value from ``measured`` (or "not measured yet" and the command)."""

    def value(match: re.Match) -> str:
        key = match["key"]
        if key not in measured:
            part = next(name for name, keys in PART_KEYS.items() if key in keys)
            return f"<!-- measured:{key} -->(not measured yet: `hebbdam measure {part}`)<!-- /measured -->"
        number = measured[key]
        shown = f"{number:,}" if isinstance(number, int) and number >= 10_000 else str(number)
        return f"<!-- measured:{key} -->{shown}<!-- /measured -->"

    return SPAN.sub(value, text)


def main(args) -> None:
    parts = args.words or list(PARTS)
    read = io.read_json(MEASURED) if MEASURED.is_file() else {}
    measured: dict[str, object] = dict(read) if isinstance(read, dict) else {}
    for part in parts:
        say(f"measure: {part} …")
        numbers = PARTS[part]()
        stamp: dict[str, object] = {
            "at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%MZ"),
            "cpus": os.cpu_count(),
        }
        stamp["load"] = round(os.getloadavg()[0], 1)
        measured |= {**numbers, f"{part}.when": stamp}
        say(f"measure: {part}: {json.dumps(numbers)}")
    io.write_json(MEASURED, dict(sorted(measured.items())))
    io.write_text(README, fill(README.read_text(encoding="utf-8"), measured))
    say(f"wrote {MEASURED.relative_to(REPO_ROOT)} and the measured figures of README.md")
