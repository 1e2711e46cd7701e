"""A stage depends on what it runs: ``dvc status`` in a copy of the repository, after a comment is appended to one
source file, lists as newly stale only the stages whose code imports that file (issue 23, item 1).

The copy holds the tracked files, a placeholder data/ (the real data is not needed to hash a dependency) and a
dvc.lock that ``dvc commit`` records in the copy, so nothing is stale before the probe; the lead's dvc.lock is not
read or written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hebbdam.measure import scratch_repository

pytestmark = pytest.mark.slow  # three `dvc status` runs of about 5-10 s each

DVC = str(Path(sys.executable).with_name("dvc"))  # the venv's, whatever PATH says
HEBBDAM = str(Path(sys.executable).with_name("hebbdam"))


def stale_stages(repo: Path) -> set[str]:
    """Names of the stages ``dvc status --json`` lists (foreach items as ``stage@item``)."""
    result = subprocess.run([DVC, "status", "--json"], cwd=repo, check=True, capture_output=True, text=True)
    return {name.split(":")[-1] for name in json.loads(result.stdout or "{}")}


def newly_stale(repo: Path, relative: str, before: set[str]) -> set[str]:
    """The stages that appending a comment to ``relative`` adds to ``before``; the file is restored afterwards."""
    path = repo / relative
    original = path.read_bytes()
    path.write_bytes(original + b"\n# probe\n")
    try:
        return stale_stages(repo) - before
    finally:
        path.write_bytes(original)


@pytest.fixture(scope="module")
def probe_repo(tmp_path_factory):
    if DVC is None:
        pytest.skip("dvc is not installed")
    repo = scratch_repository(tmp_path_factory.mktemp("repo"))
    before = stale_stages(repo)
    assert before == set(), before  # the copy's lock was just recorded
    return repo, before


def test_the_stage_table_marks_no_experiment_stale(probe_repo):
    """stages.py is read by the commands (dvc-yaml, cli, runner) and by figures/report (which figures to draw),
    never by an experiment's or a data stage's code."""
    repo, before = probe_repo
    stale = newly_stale(repo, "src/hebbdam/stages.py", before)
    assert stale <= {"figures", "report"}, stale


def test_the_download_code_marks_only_the_data_stages_stale(probe_repo):
    """Only the data commands run the download code: stages that load data/processed (classification, …) and the
    synthetic-pattern stages (capacity, …) do not."""
    repo, before = probe_repo
    stale = newly_stale(repo, "src/hebbdam/data/download.py", before)
    assert stale <= {"download", "prepare"} and "capacity" not in stale, stale


def test_the_composition_check_marks_no_stage_stale(probe_repo):
    """validation.py checks params at composition and at the CLI's door; no stage's results depend on it."""
    repo, before = probe_repo
    assert newly_stale(repo, "src/hebbdam/validation.py", before) == set()


def test_wandb_settings_rerun_nothing(probe_repo):
    """``-S logger.project=x`` says where runs are shown, not what a stage computes: no stage lists ``logger``."""
    repo, before = probe_repo
    path = repo / "params.yaml"
    original = path.read_text(encoding="utf-8")
    data = yaml.safe_load(original)
    data["logger"]["project"] = f"{data['logger']['project']}-probe"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    try:
        assert stale_stages(repo) - before == set()
    finally:
        path.write_text(original, encoding="utf-8")


def test_a_stage_settings_module_marks_only_its_stage_and_the_table_readers_stale(probe_repo):
    """hebbdam.settings.appendix_b is in appendix_b's import closure, and it declares appendix_b's stage, which the
    figures and report stages read through the stage table (their figure modules, records and order); no other
    experiment (the composition check imports it too, but validation is no stage's dependency)."""
    repo, before = probe_repo
    assert newly_stale(repo, "src/hebbdam/settings/appendix_b.py", before) == {"appendix_b", "figures", "report"}


# A toy experiment added the way CONTRIBUTING.md's "Add an experiment" says: Hebb-rule storage of random ±1 patterns
# in a Hopfield net, the fraction that are fixed points of one synchronous step (a real computation, not a constant).
TOY_SETTINGS = '''"""The settings of the toy experiment (torch-free)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..config import Params
from ..schema import NONNEG_INT, POSITIVE_INT, int_list, parse, setting
from ..stage_spec import Stage


@dataclass(frozen=True, kw_only=True)
class Settings:
    seed: int = setting(NONNEG_INT)
    dim: int = setting(POSITIVE_INT)
    patterns: list[int] = setting(int_list(1))
    device: Any = None


def parse_settings(params: Params, **given: Any) -> Settings:
    return parse(Settings, params.section("toy"), **given)


STAGES: tuple[Stage, ...] = (
    Stage(
        name="toy",
        entry="hebbdam.experiments.toy:main",
        help="toy: Hebbian fixed points against P",
        params=("toy",),
        records=("toy.json",),
        figures=("toy",),
        position=1000,
    ),
)
'''

TOY_EXPERIMENT = '''"""Toy: P random ±1 patterns stored by the Hebb rule; the fraction one synchronous step keeps."""

from __future__ import annotations

from ..config import Params
from ..data.synthetic import rademacher
from ..memory import Hopfield
from ..rules import get_rule
from ..settings import toy as schema
from ..settings.toy import Settings
from .common import built, compute_device, generator_for, run_stage, select


def parse_settings(params: Params) -> Settings:
    return built(schema.parse_settings(params, device=compute_device(params)))


def stable_fraction(settings: Settings, count: int) -> float:
    """(count, dim) random patterns → Hebbian weights (dim, dim) → fraction of patterns that are fixed points."""
    patterns = rademacher(count, settings.dim, generator_for(settings.seed, "toy", count))
    memory = Hopfield(get_rule("hebb").fit(patterns))
    return round((memory.step(patterns) == patterns).all(dim=1).double().mean().item(), 6)


def compute(settings: Settings, params: Params, tracker) -> dict[str, object]:
    stable = {f"P{n}": {"patterns": n, "stable": stable_fraction(settings, n)} for n in settings.patterns}
    return {"toy.json": {"dim": settings.dim, "stable": stable}}


def main(args) -> None:
    run_stage(args, "toy", parse_settings, compute, headline=lambda record: select(record, "stable.*.stable"))
'''

TOY_FIGURE = '''"""Toy: fraction of stored patterns that are fixed points against P."""

from __future__ import annotations

from .style import plt

INPUTS = ["toy.json"]
OUTPUT = "toy.png"


def draw(metrics: dict) -> plt.Figure:
    points = sorted(metrics["toy.json"]["stable"].values(), key=lambda p: p["patterns"])
    fig, ax = plt.subplots(figsize=(4.0, 3.0))
    ax.plot([p["patterns"] for p in points], [p["stable"] for p in points], "o-")
    ax.set_xlabel("P (patterns)")
    ax.set_ylabel("fraction stable")
    return fig
'''

TOY_CONFIG = """defaults:
  - _self_
  - optional toy@_here_: ${profile}
seed: ${seed}
dim: 64
patterns: [2, 4, 8, 16]
"""

# written by `hebbdam dvc-yaml` and `hebbdam compose`, never by hand
GENERATED = {"dvc.yaml", "params.yaml", "reports/paper/dvc.yaml", "reports/paper/params.yaml"}


def _hebbdam(repo: Path, *words: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(repo / "src"), "WANDB_MODE": "disabled"}
    subprocess.run([HEBBDAM, *words], cwd=repo, env=env, check=True, capture_output=True, text=True)


def add_toy_experiment(repo: Path) -> None:
    """Write the toy experiment's files and edits by hand (as a contributor would), then regenerate."""
    (repo / "src/hebbdam/settings/toy.py").write_text(TOY_SETTINGS, encoding="utf-8")
    (repo / "src/hebbdam/experiments/toy.py").write_text(TOY_EXPERIMENT, encoding="utf-8")
    (repo / "src/hebbdam/figures/toy.py").write_text(TOY_FIGURE, encoding="utf-8")
    (repo / "conf/experiment/toy.yaml").write_text(TOY_CONFIG, encoding="utf-8")
    config = repo / "conf/config.yaml"
    lines = config.read_text(encoding="utf-8").splitlines(keepends=True)
    last = max(i for i, line in enumerate(lines) if line.lstrip().startswith("- experiment@"))
    config.write_text("".join([*lines[: last + 1], "  - experiment@toy: toy\n", *lines[last + 1 :]]), encoding="utf-8")
    _hebbdam(repo, "dvc-yaml")
    _hebbdam(repo, "compose")


def changed_files(repo: Path) -> set[str]:
    """Paths git sees added or modified in the copy since its one commit."""
    result = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"], cwd=repo, check=True, capture_output=True, text=True
    )
    return {line[3:] for line in result.stdout.splitlines()}


def test_adding_an_experiment_reruns_no_other_stage(probe_repo):
    """Adding a stage touches 3 hand-edited source files (settings with its stage, experiment, figure), 4 with its
    test, plus its config (issue 23, item 3: ≤ 4), and ``dvc status``
    lists only it and the two stages that aggregate every experiment: ``figures`` and ``report`` depend on every
    stage's metrics files and figure modules and read the stage table (stages.py) to find them, so a new stage is
    new input to both. After ``dvc repro toy`` (which runs only the toy) only those two are left."""
    repo, before = probe_repo
    try:
        add_toy_experiment(repo)
        hand = changed_files(repo) - GENERATED
        config = {path for path in hand if path.startswith("conf/")}
        assert config == {"conf/experiment/toy.yaml", "conf/config.yaml"}, config
        code = hand - config
        assert code == {
            "src/hebbdam/settings/toy.py",  # its schema and its stage
            "src/hebbdam/experiments/toy.py",
            "src/hebbdam/figures/toy.py",
        }, code
        assert len(code) <= 3  # with its own test, 4 hand-edited files
        assert stale_stages(repo) - before == {"toy", "figures", "report"}
        env = {**os.environ, "PYTHONPATH": str(repo / "src"), "WANDB_MODE": "disabled"}
        run = subprocess.run([DVC, "repro", "--single-item", "toy"], cwd=repo, env=env, capture_output=True, text=True)
        assert run.returncode == 0, run.stdout + run.stderr
        record = json.loads((repo / "reports/metrics/toy.json").read_text(encoding="utf-8"))
        stable = {entry["patterns"]: entry["stable"] for entry in record["stable"].values()}
        assert stable[2] == 1.0 and stable[16] < stable[2], stable  # 16 patterns in 64 units: past 0.138·D
        assert stale_stages(repo) - before == {"figures", "report"}
    finally:
        subprocess.run(["git", "checkout", "-q", "--", "."], cwd=repo, check=True)
        subprocess.run(["git", "clean", "-fdq"], cwd=repo, check=True)
