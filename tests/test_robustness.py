"""Robustness on the user's paths: no NaN in a record, one line for every failure, a stage that outlives its parent
writes nothing, the trainer section checked at composition."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hebbdam import io, orphan
from hebbdam.errors import HebbdamError

REPO = Path(__file__).resolve().parents[1]


def hebbdam(*argv: str, cwd: Path = REPO, env: dict | None = None) -> subprocess.CompletedProcess:
    """The ``hebbdam`` command line in a subprocess, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "hebbdam.cli", *map(str, argv)],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "WANDB_MODE": "disabled", **(env or {})},
        timeout=300,
    )


# ----------------------------------------------------------------------------------------------------- records


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_write_json_refuses_a_non_finite_number_and_names_its_key(tmp_path, bad):
    path = tmp_path / "r.json"
    path.write_text("old\n")
    with pytest.raises(HebbdamError, match=r"key 'arms\.hebb\.1' is (nan|inf|-inf)"):
        io.write_json(path, {"arms": {"hebb": [0.1, bad]}, "ok": 1})
    assert path.read_text() == "old\n" and list(tmp_path.iterdir()) == [path]


def test_a_nullable_field_becomes_null(tmp_path):
    path = io.write_json(tmp_path / "r.json", {"a": {"std": math.nan}, "b": 1.0}, nullable=["*.std"])
    assert json.loads(path.read_text()) == {"a": {"std": None}, "b": 1.0}


def test_write_json_files_refuses_nan_before_any_file_is_written(tmp_path):
    (tmp_path / "one.json").write_text("old\n")
    with pytest.raises(HebbdamError, match="two.json: key 'x' is nan"):
        io.write_json_files(tmp_path, {"one.json": {"x": 1.0}, "two.json": {"x": math.nan}})
    assert (tmp_path / "one.json").read_text() == "old\n" and sorted(p.name for p in tmp_path.iterdir()) == ["one.json"]


def test_an_orphaned_process_renames_nothing(tmp_path, monkeypatch):
    """The check before the final rename: a process whose recorded parent is no longer its parent writes nothing."""
    monkeypatch.setattr(orphan, "_parent", os.getppid() + 100000)
    target = tmp_path / "r.json"
    target.write_text("old\n")
    with pytest.raises(KeyboardInterrupt):
        io.write_json_files(tmp_path, {"r.json": {"x": 1.0}})
    with pytest.raises(KeyboardInterrupt):
        io.write_json(target, {"x": 1.0})
    assert target.read_text() == "old\n" and list(tmp_path.iterdir()) == [target]
    monkeypatch.setattr(orphan, "_parent", os.getppid())
    io.write_json(target, {"x": 1.0})
    assert json.loads(target.read_text()) == {"x": 1.0}
