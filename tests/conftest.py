"""Shared fixtures: tests compose the real conf/ with tiny overrides (as lightning-hydra-template does)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests draw the same examples on every run (derandomize: examples come from each test's name), so `make test`
# is the same test twice and a failure reproduces; known failures stay as explicit @example rows. To explore new
# examples locally: HYPOTHESIS_PROFILE=explore (random draws, failures kept in .hypothesis/).
settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("explore", derandomize=False, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

os.environ["WANDB_MODE"] = "disabled"  # before any test imports wandb; a test that wants offline sets it itself
os.environ.setdefault("WANDB_SILENT", "true")

REPO_ROOT = Path(__file__).resolve().parents[1]

BIASED_ARMS = ("hebb_biased", "covariance_centred_biased", "covariance_biased")
TINY_CAPACITY = [
    "capacity.trials=2",
    "capacity.arms.hebb_async.dims=[24]",
    "capacity.arms.hebb_async.loads=[0.05,0.3]",
    "capacity.arms.hebb_sync.dims=[24]",
    "capacity.arms.hebb_sync.loads=[0.05,0.3]",
    "capacity.arms.dam3_async.dims=[12]",
    "capacity.arms.dam3_async.loads=[0.5,4.0]",
    *(f"capacity.arms.{arm}.{key}" for arm in BIASED_ARMS for key in ("dims=[24]", "loads=[0.05,0.3]")),
    "capacity.finite_size=[]",  # Hebb's finite-size arm (D up to 2000) has its own tests
    "~capacity.arms.hebb_finite",
]


@pytest.fixture
def compose_params(tmp_path):
    """compose_params(*overrides) → path of a params.yaml composed from the real conf/ with those overrides."""
    from hebbdam.composition import compose

    def _compose(*overrides: str, name: str = "params.yaml") -> Path:
        path = tmp_path / name
        path.write_text(compose(list(overrides), config_dir=REPO_ROOT / "conf", selection=False), encoding="utf-8")
        return path

    return _compose


@pytest.fixture
def one_thread():
    """Run the test on one intra-op thread (small tensors), restoring the count afterwards."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def run_cli():
    """run_cli(*argv) → exit code of the hebbdam command line, in-process."""
    from hebbdam.cli import main

    return lambda *argv: main(list(map(str, argv)))


def compose_file(path: Path, overrides: list[str]) -> Path:
    """Write the composition of the real conf/ with ``overrides`` to ``path``."""
    from hebbdam.composition import compose

    path.write_text(compose(list(overrides), config_dir=REPO_ROOT / "conf", selection=False), encoding="utf-8")
    return path


def scratch_repo(destination: Path, git: bool = False) -> Path:
    """A copy of what the next commit would hold (tracked and untracked-not-ignored files) at ``destination``: a
    DVC repository without git (``core.no_scm``), or, with ``git=True``, a fresh git repository with one commit."""
    import subprocess

    from hebbdam.breaks import copy_tree

    copy_tree(destination, REPO_ROOT)
    if git:
        identity = ["-c", "user.name=hebbdam-tests", "-c", "user.email=tests@localhost"]
        for argv in (["init", "-q"], ["add", "-A"], [*identity, "commit", "-qm", "scratch copy"]):
            subprocess.run(["git", *argv], cwd=destination, check=True, capture_output=True)
    else:
        dvc(destination, "config", "--local", "core.no_scm", "true")
    return destination


def dvc(root: Path, *argv: str, **kwargs):
    """Run the venv's ``dvc`` in ``root`` (W&B disabled, no analytics); the CompletedProcess, text mode."""
    import subprocess
    import sys

    executable = Path(sys.executable).with_name("dvc")
    return subprocess.run(
        [str(executable), *argv], cwd=root, capture_output=True, text=True, env=stage_env(), timeout=600, **kwargs
    )


def stage_env() -> dict[str, str]:
    """The environment DVC runs stages in: the venv's commands first on PATH, W&B disabled, no analytics."""
    import sys

    bin_dir = str(Path(sys.executable).parent)
    return {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}",
        "DVC_NO_ANALYTICS": "1",
        "WANDB_MODE": "disabled",
    }


def hand_edit(path: Path, override: str) -> Path:
    """Set ``a.b.c=value`` straight in a params file, as a user editing params.yaml would (no composition, so no
    composition check: the stage's own check must catch a bad value)."""
    import yaml

    key, value = override.split("=", 1)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    *parents, leaf = key.lstrip("+").split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = yaml.safe_load(value)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def compose_then_edit(path: Path, overrides: list[str], edit: str) -> Path:
    """A valid composition of ``overrides``, then ``edit`` typed into it by hand (see :func:`hand_edit`)."""
    return hand_edit(compose_file(path, overrides), edit)
