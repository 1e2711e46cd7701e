"""A profile (or any override) selected with `make params OVERRIDES=…` survives DVC's own recomposition."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from hebbdam import selection
from hebbdam.composition import compose

from .conftest import REPO_ROOT, dvc, scratch_repo, stage_env


def hebbdam(root, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hebbdam.cli", *argv], cwd=root, capture_output=True, text=True, env=stage_env()
    )


def test_overrides_become_a_selection_config():
    config = selection.as_config(["profile=ci", "rule=storkey", "capacity.trials=3", "seed=7"], REPO_ROOT / "conf")
    assert config == {
        "defaults": [{"override /profile": "ci"}, {"override /rule": "storkey"}],
        "capacity": {"trials": 3},
        "seed": 7,
    }


def test_a_deletion_cannot_be_kept():
    from hebbdam.errors import HebbdamError

    with pytest.raises(HebbdamError, match="cannot be kept as a selection"):
        selection.as_config(["~seed"], REPO_ROOT / "conf")


def test_the_selection_is_kept_by_later_compositions_and_reset_forgets_it(tmp_path):
    root = scratch_repo(tmp_path)
    assert hebbdam(root, "compose", "profile=ci", "seed=3").returncode == 0
    params = yaml.safe_load((root / "params.yaml").read_text())
    assert (params["profile"], params["seed"]) == ("ci", 3)
    later = yaml.safe_load(compose(["capacity.trials=2"], config_dir=root / "conf"))  # what `dvc exp run -S` does
    assert (later["profile"], later["seed"], later["capacity"]["trials"]) == ("ci", 3, 2)
    assert yaml.safe_load(compose([], config_dir=root / "conf", selection=False))["profile"] == "laptop"

    before = (root / "params.yaml").read_bytes(), selection.path(root / "conf").read_bytes()
    bad = hebbdam(root, "compose", "capacity.trials=abc")
    assert bad.returncode != 0 and "capacity.trials" in bad.stderr
    assert ((root / "params.yaml").read_bytes(), selection.path(root / "conf").read_bytes()) == before

    assert hebbdam(root, "compose", "--reset").returncode == 0
    assert not selection.path(root / "conf").exists()
    assert yaml.safe_load((root / "params.yaml").read_text())["profile"] == "laptop"


@pytest.mark.slow
def test_a_queued_dvc_experiment_keeps_the_selected_profile(tmp_path):
    """Select ci, queue an experiment with one -S: its params.yaml has ci sizes, not the laptop defaults."""
    root = scratch_repo(tmp_path, git=True)
    ci_dims = yaml.safe_load(compose(["profile=ci"], config_dir=REPO_ROOT / "conf", selection=False))["capacity"]
    laptop = yaml.safe_load(compose([], config_dir=REPO_ROOT / "conf", selection=False))["capacity"]
    assert ci_dims["arms"]["hebb_async"]["dims"] != laptop["arms"]["hebb_async"]["dims"]
    assert hebbdam(root, "compose", "profile=ci").returncode == 0
    queued = dvc(root, "exp", "run", "--queue", "-n", "picked", "-S", "capacity.trials=2", "capacity")
    assert queued.returncode == 0, queued.stderr
    shown = json.loads(dvc(root, "exp", "show", "--json").stdout)
    runs = [rev for entry in shown for exp in entry.get("experiments") or [] for rev in exp.get("revs") or []]
    (picked,) = [rev for rev in runs if rev.get("name") == "picked"]
    params = picked["data"]["params"]["params.yaml"]["data"]
    assert params["profile"] == "ci"
    assert params["capacity"]["trials"] == 2
    assert params["capacity"]["arms"]["hebb_async"]["dims"] == ci_dims["arms"]["hebb_async"]["dims"]


def test_cfg_prints_the_composition_and_keeps_nothing(tmp_path):
    root = scratch_repo(tmp_path)
    before = (root / "params.yaml").read_bytes()
    shown = hebbdam(root, "compose", "--cfg", "profile=ci", "seed=5")
    assert shown.returncode == 0, shown.stderr
    printed = yaml.safe_load(shown.stdout)
    assert (printed["profile"], printed["seed"]) == ("ci", 5)
    assert (root / "params.yaml").read_bytes() == before and not selection.path(root / "conf").exists()
