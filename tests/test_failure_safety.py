"""A failed or interrupted run, through DVC as users run it, loses nothing: committed results stay, git stays clean.

Each test works in a scratch copy of the repository (a git repository of its own for ``dvc exp run``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import dvc, scratch_repo, stage_env

pytestmark = pytest.mark.slow

RECORDS = ("reports/metrics/capacity.json", "reports/metrics/capacity_curves.json")


def _snapshot(root: Path) -> dict[str, bytes]:
    return {name: (root / name).read_bytes() for name in (*RECORDS, "params.yaml", "dvc.lock")}


def _git_status(root: Path) -> str:
    return subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"], cwd=root, capture_output=True, text=True, check=True
    ).stdout


def test_dvc_exp_run_with_a_bad_value_is_refused_before_params_yaml_is_written(tmp_path):
    root = scratch_repo(tmp_path / "repo", git=True)
    before = _snapshot(root)
    result = dvc(root, "exp", "run", "-S", "capacity.trials=abc", "capacity")
    assert result.returncode != 0
    assert "params key 'capacity.trials': expected a positive integer, got 'abc'" in result.stderr, result.stderr
    assert _snapshot(root) == before
    assert _git_status(root) == ""


def test_dvc_repro_with_a_value_typed_into_params_yaml_fails_and_keeps_every_result(tmp_path):
    root = scratch_repo(tmp_path / "repo", git=True)
    params = root / "params.yaml"
    params.write_text(params.read_text().replace("  trials: 5\n", "  trials: abc\n", 1))
    before = _snapshot(root)
    result = dvc(root, "repro", "capacity")
    assert result.returncode != 0
    assert "hebbdam: error: params key 'capacity.trials'" in result.stderr + result.stdout
    assert _snapshot(root) == before
    assert _git_status(root) == " M params.yaml\n"  # the user's own edit, and nothing else


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_dvc_repro_keeps_every_result(tmp_path, signum):
    root = scratch_repo(tmp_path / "repo", git=True)
    before = _snapshot(root)
    executable = Path(sys.executable).with_name("dvc")
    process = subprocess.Popen(
        [str(executable), "repro", "--force", "capacity"],
        cwd=root,
        env=stage_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not _stage_is_computing(process.pid):
        time.sleep(0.5)
    time.sleep(2.0)  # well inside the stage's work (it takes minutes on the laptop profile)
    os.killpg(process.pid, signum)
    output, _ = process.communicate(timeout=120)
    assert process.returncode != 0, output
    assert _snapshot(root) == before, output
    assert _git_status(root) == "", output
    if signum == signal.SIGINT:
        assert "interrupted; no output of this run was written" in output


def _stage_is_computing(dvc_pid: int) -> bool:
    """True once a `hebbdam capacity` process runs under the dvc process (its command has started)."""
    listed = subprocess.run(["ps", "-eo", "pgid=,args="], capture_output=True, text=True).stdout
    return any(line.split(None, 1)[0] == str(dvc_pid) and "hebbdam capacity" in line for line in listed.splitlines())
