"""An offline W&B run carries the stage's config, the git commit, group/job_type and the summary."""

from __future__ import annotations

import pytest

from hebbdam.config import load_params
from hebbdam.errors import HebbdamError
from hebbdam.tracking import wandb_run

from .conftest import TINY_CAPACITY
from .wandb_offline import read_run


def test_offline_run_records_config_and_summary(compose_params, monkeypatch, tmp_path):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    params = load_params(compose_params(*TINY_CAPACITY))
    with wandb_run(params, "capacity", "capacity", {"capacity": params.section("capacity").to_dict()}) as run:
        run.summary["hebb_async/D24/critical_load"] = 0.25
    (run_dir,) = (tmp_path / "wandb").glob("offline-run-*")
    logged = read_run(run_dir)
    assert logged["group"] == "capacity" and logged["job_type"] == "capacity"
    assert logged["config"]["capacity"]["trials"] == 2
    assert logged["config"]["git_commit"] and logged["config"]["profile"] == "laptop"
    assert logged["summary"]["hebb_async/D24/critical_load"] == 0.25


def test_run_is_finished_even_when_the_stage_fails(compose_params, monkeypatch, tmp_path):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    import wandb

    params = load_params(compose_params(*TINY_CAPACITY))
    with pytest.raises(HebbdamError), wandb_run(params, "capacity", "capacity", {}):
        raise HebbdamError("stage failed")
    assert wandb.run is None
    (run_dir,) = (tmp_path / "wandb").glob("offline-run-*")
    assert read_run(run_dir)["group"] == "capacity"
