"""A stage depends on what it runs: ``dvc status`` in a copy of the repository, after a comment is appended to one
source file, lists as newly stale only the stages whose code imports that file (issue 23, item 1).

The copy holds the tracked files, a placeholder data/ (the real data is not needed to hash a dependency) and a
dvc.lock that ``dvc commit`` records in the copy, so nothing is stale before the probe; the lead's dvc.lock is not
read or written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hebbdam.measure import scratch_repository

pytestmark = pytest.mark.slow  # three `dvc status` runs of about 5-10 s each

DVC = str(Path(sys.executable).with_name("dvc"))  # the venv's, whatever PATH says


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


def test_a_stage_settings_module_marks_only_its_stage_stale(probe_repo):
    """hebbdam.settings.appendix_b is in appendix_b's import closure only (the composition check imports it too,
    but validation is no stage's dependency)."""
    repo, before = probe_repo
    assert newly_stale(repo, "src/hebbdam/settings/appendix_b.py", before) == {"appendix_b"}
