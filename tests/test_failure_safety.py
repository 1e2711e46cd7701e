"""A failed or interrupted run, through DVC as users run it, loses nothing: committed results stay, git stays clean.

Each test works in a scratch copy of the repository (a git repository of its own for ``dvc exp run``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
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


@pytest.mark.parametrize(
    "override, message",
    [
        ("capacity.trials=abc", "params key 'capacity.trials': expected a positive integer, got 'abc'"),
        ("trainer.precision=junk", "params key 'trainer.precision': expected a Lightning precision"),
    ],
)
def test_dvc_exp_run_with_a_bad_value_is_refused_before_params_yaml_is_written(tmp_path, override, message):
    root = scratch_repo(tmp_path / "repo", git=True)
    before = _snapshot(root)
    result = dvc(root, "exp", "run", "-S", override, "capacity")
    assert result.returncode != 0
    assert message in result.stderr, result.stderr
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


MARKER = "critical load"  # the stage's progress line after its first measured dimension: it is computing


class Run:
    """``dvc repro --force capacity`` in its own process group, its output read line by line in a thread (so the
    pipe never fills); ``computing`` is set once the stage prints its first progress line."""

    def __init__(self, root: Path):
        executable = Path(sys.executable).with_name("dvc")
        self.process = subprocess.Popen(
            [str(executable), "repro", "--force", "capacity"],
            cwd=root,
            env=stage_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self.computing = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)
            if MARKER in line:
                self.computing.set()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def stage_pids(self) -> list[int]:
        """The `hebbdam capacity` processes of the run's process group (the stage, orphaned or not)."""
        listed = subprocess.run(["ps", "-eo", "pid=,pgid=,args="], capture_output=True, text=True).stdout
        rows = [line.split(None, 2) for line in listed.splitlines()]
        return [int(r[0]) for r in rows if len(r) == 3 and r[1] == str(self.process.pid) and "hebbdam capacity" in r[2]]

    def wait_all(self, timeout: float = 180) -> None:
        """Wait for dvc and for every stage process of the group to be gone (an orphan must exit by itself)."""
        self.process.wait(timeout=timeout)
        deadline = time.monotonic() + timeout
        while self.stage_pids() and time.monotonic() < deadline:
            time.sleep(0.2)
        self.reader.join(timeout=10)


@pytest.mark.parametrize(
    "signum, target",
    [
        (signal.SIGINT, "group"),  # Ctrl-C in a terminal: dvc and the stage both get it
        (signal.SIGTERM, "group"),
        (signal.SIGTERM, "dvc"),  # a CI cancel or `kill <dvc pid>`: the stage is orphaned
        (signal.SIGKILL, "dvc"),  # the OOM killer choosing dvc
    ],
    ids=["SIGINT-group", "SIGTERM-group", "SIGTERM-dvc", "SIGKILL-dvc"],
)
def test_an_interrupted_dvc_repro_keeps_every_result(tmp_path, signum, target):
    root = scratch_repo(tmp_path / "repo", git=True)
    before = _snapshot(root)
    run = Run(root)
    assert run.computing.wait(timeout=300), f"the stage never printed {MARKER!r}:\n{run.output}"
    if target == "group":
        os.killpg(run.process.pid, signum)
    else:
        os.kill(run.process.pid, signum)
    run.wait_all()
    assert run.stage_pids() == [], f"the stage outlived its parent:\n{run.output}"
    assert run.process.returncode != 0, run.output
    assert _snapshot(root) == before, run.output
    assert _git_status(root) == "", run.output
    if signum == signal.SIGINT:
        assert "interrupted; no output of this run was written" in run.output
    if target == "dvc" and signum == signal.SIGTERM:
        print(f"dvc-only {signum.name}: dvc exit {run.process.returncode}; git status clean; output tail:")
        print("".join(run.lines[-4:]))
