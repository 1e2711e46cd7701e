"""W&B as the comparison tool: two offline stage runs (real stage commands) read back after they finished carry
the group of their experiment, the stage as job_type, a readable name, tags, and the same keys — headline summary,
curve tables with the same series, per-step Lightning curves on an explicit x-axis — so they overlay key by key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hebbdam.config import load_params
from hebbdam.errors import HebbdamError
from hebbdam.experiments.common import headline_numbers, select
from hebbdam.tracking import run_group, runs_root, stage_run

from .conftest import BIASED_ARMS, TINY_CAPACITY, compose_file
from .wandb_offline import read_run

TINY = [
    *TINY_CAPACITY,
    "capacity.trials=1",
    "~capacity.arms.hebb_sync",
    *(f"~capacity.arms.{arm}" for arm in BIASED_ARMS),
    "capacity.arms.hebb_async.loads=[0.05,0.6]",
]


def stage(params: Path, out: Path, runs: Path, experiment: str) -> None:
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_DIR": str(runs), "DVC_EXP_NAME": experiment}
    command = [str(Path(sys.executable).parent / "hebbdam"), "capacity", "--params", str(params), "--out", str(out)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"W&B run 'capacity · {experiment}' saved offline" in done.stderr


@pytest.mark.slow
def test_two_experiments_leave_offline_runs_that_overlay(tmp_path):
    base = compose_file(tmp_path / "a.yaml", TINY)
    other = compose_file(tmp_path / "b.yaml", [*TINY, "capacity.arms.hebb_async.loads=[0.05,0.2,0.6]", "seed=1"])
    stage(base, tmp_path / "out_a", tmp_path, "exp-a")
    stage(other, tmp_path / "out_b", tmp_path, "exp-b")
    runs = sorted((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 2
    a, b = sorted((read_run(run) for run in runs), key=lambda run: run["group"])
    assert (a["group"], b["group"]) == ("exp-a", "exp-b")
    assert a["job_type"] == b["job_type"] == "capacity" and a["name"] == "capacity · exp-a"
    assert set(a["tags"]) == {"profile:laptop", "rule:hebb"}
    assert a["config"]["capacity"]["arms"]["hebb_async"]["loads"] == [0.05, 0.6]
    assert b["config"]["capacity"]["arms"]["hebb_async"]["loads"] == [0.05, 0.2, 0.6]
    assert a["config"]["git_commit"] and a["config"]["trainer"]["devices"] == 1
    # the headline numbers, under the same D-free keys
    headline = {"hebb_async.critical_load", "dam3_async.critical_load"}
    assert headline <= a["summary"].keys() and headline <= b["summary"].keys()
    assert not any("D12" in key or "D24" in key for key in a["summary"])
    # the curves: one table per y with the same columns and series; the x values are each run's own grid
    for key in ("curves/retrieved_table", "curves/exact_table"):
        assert {frozenset(row) for row in a["tables"][key]} == {frozenset({"load", key[7:-6], "series"})}
        assert {r["series"] for r in a["tables"][key]} == {r["series"] for r in b["tables"][key]}
        assert {"hebb_async D=24", "dam3_async D=12"} == {r["series"] for r in a["tables"][key]}
    loads_b = {r["load"] for r in b["tables"]["curves/retrieved_table"] if r["series"] == "hebb_async D=24"}
    assert loads_b == {0.05, 0.2, 0.6}
    # Lightning's per-step curves, on an explicit x-axis, in both runs
    assert {"hebbian/stored_norm", "trainer/global_step"} <= a["history_keys"] & b["history_keys"]
    assert a["step_metrics"]["hebbian/*"] == "trainer/global_step"
    assert any(key.startswith("figures/capacity") for key in a["summary"])


def test_run_is_finished_even_when_the_stage_fails(compose_params, monkeypatch, tmp_path):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    import wandb

    params = load_params(compose_params(*TINY_CAPACITY))
    with pytest.raises(HebbdamError), stage_run(params, "capacity", {}):
        raise HebbdamError("stage failed")
    assert wandb.run is None
    assert len(list((tmp_path / "wandb").glob("offline-run-*"))) == 1


def test_without_wandb_the_stage_runs_untracked(compose_params, run_cli, monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "wandb", None)  # `import wandb` now raises ImportError
    monkeypatch.setenv("WANDB_MODE", "offline")
    params = compose_params(*TINY, "capacity.arms.dam3_async.loads=[0.5]", "capacity.arms.hebb_async.loads=[0.1]")
    assert run_cli("capacity", "--params", params, "--out", tmp_path / "out") == 0
    headline = json.loads((tmp_path / "out" / "headline" / "capacity.json").read_text())
    assert set(headline) == {"hebb_async.critical_load", "dam3_async.critical_load"}  # numbers, no sizes in keys
    assert all(value is None or isinstance(value, float) for value in headline.values())
    curves = json.loads((tmp_path / "out" / "capacity_curves.json").read_text())
    assert {row["series"] for row in curves} == {"hebb_async D=24", "dam3_async D=12"}  # one DVC plot line each
    lines = [line for line in capsys.readouterr().err.splitlines() if "W&B" in line]
    assert lines == ["capacity: W&B tracking off (the wandb package is not installed; pip install wandb to track runs)"]


def test_a_headline_holds_numbers_only():
    assert headline_numbers({"arms.hebb.critical_load": 0.14, "half.exponent": None}, "capacity") == {
        "hebb.critical_load": 0.14,
        "half.exponent": None,
    }
    with pytest.raises(HebbdamError, match="capacity: headline value 'arms.hebb.rule' is 'hebb'"):
        headline_numbers({"arms.hebb.rule": "hebb"}, "capacity")


def test_a_pattern_selects_the_numbers_under_it_not_the_names():
    record = {"binary": {"gaussian": {"hebb": 0.5, "missing": None, "rule": "hebb", "curve": [1, 2]}}, "x": 1}
    picked = select(record, "binary.gaussian.*")
    assert picked == {"binary.gaussian.hebb": 0.5, "binary.gaussian.missing": None}
    assert headline_numbers(picked, "retrieval") == picked  # a headline can take whatever a pattern selects


def test_group_and_folder_follow_dvc(compose_params, monkeypatch, tmp_path):
    for variable in ("DVC_EXP_NAME", "HEBBDAM_RUN_GROUP", "WANDB_DIR", "DVC_ROOT"):
        monkeypatch.delenv(variable, raising=False)
    assert run_group().startswith("commit-")
    monkeypatch.setenv("HEBBDAM_RUN_GROUP", "repro-1")
    assert run_group() == "repro-1"
    monkeypatch.setenv("DVC_EXP_NAME", "fuzzy-exp")
    assert run_group() == "fuzzy-exp"  # dvc exp run names the group
    params = load_params(compose_params())
    assert runs_root(params) == Path(".")
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))  # a queued experiment: the user's repository, not DVC's copy
    assert runs_root(params) == tmp_path
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "elsewhere"))
    assert runs_root(params) == tmp_path / "elsewhere"
