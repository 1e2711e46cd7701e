"""Robustness on the user's paths: no NaN in a record, one line for every failure, a stage that outlives its parent
writes nothing, the trainer section checked at composition."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
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


# ------------------------------------------------------------------------------------------- one line per failure


def one_line(result: subprocess.CompletedProcess) -> str:
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    return result.stderr.strip()


def test_an_unwritable_out_is_one_line_naming_the_file(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = hebbdam("compose", "--out", blocker / "params.yaml")
    assert result.returncode == 1
    line = one_line(result)
    assert (
        line
        == f"hebbdam: error: compose: {blocker}: File exists (FileExistsError) [HEBBDAM_DEBUG=1 shows the traceback]"
    )


def test_a_full_disk_is_one_line(tmp_path):
    """``ulimit -f 0`` makes every write fail as a full disk would (EFBIG; Python ignores SIGXFSZ)."""
    out = tmp_path / "dvc.yaml"
    command = f"ulimit -f 0; exec {sys.executable} -m hebbdam.cli dvc-yaml --out {out}"
    result = subprocess.run(["bash", "-c", command], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    line = one_line(result)
    assert "File too large" in line and str(tmp_path) in line and "HEBBDAM_DEBUG=1" in line
    assert not out.exists() and list(tmp_path.iterdir()) == []  # no temporary file left behind


def test_a_binary_params_file_is_one_line(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_bytes(bytes(range(256)) * 4)
    result = hebbdam("capacity", "--params", params, "--out", tmp_path / "out")
    assert result.returncode == 2
    assert one_line(result) == f"hebbdam: error: {params}: not UTF-8 text (byte 128); is it a params file?"


def test_an_exception_from_a_library_is_one_line_and_the_traceback_is_behind_hebbdam_debug(tmp_path):
    """A GPU trainer on a machine without one: Lightning raises deep inside the stage."""
    import torch

    from .conftest import TINY_CAPACITY, compose_file

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    params = compose_file(tmp_path / "params.yaml", [*TINY_CAPACITY, "trainer.accelerator=gpu"])
    result = hebbdam("capacity", "--params", params, "--out", tmp_path / "out")
    assert result.returncode == 1
    line = one_line(result)
    assert line.startswith("hebbdam: error: capacity: MisconfigurationException: ") and "gpu" in line.lower()
    debug = hebbdam("capacity", "--params", params, "--out", tmp_path / "out", env={"HEBBDAM_DEBUG": "1"})
    assert debug.returncode == 1 and "Traceback (most recent call last)" in debug.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "override, message",
    [
        ("trainer.precision=junk", "params key 'trainer.precision': expected a Lightning precision"),
        ("trainer.strategy=junk", "params key 'trainer.strategy': expected one of auto, ddp"),
        ("trainer.devices=1000", "params key 'trainer.devices': expected at most"),
        ("seed=12345678901234567890123", "params key 'seed': expected an integer in 0..4294967295"),
        ("capacity.trials=1000000000000", "params key 'capacity.trials': expected at most 10000 (time grows"),
    ],
)
def test_trainer_seed_and_sizes_are_checked_at_composition(tmp_path, override, message):
    out = tmp_path / "params.yaml"
    result = hebbdam("compose", "--out", out, override)
    assert result.returncode == 2 and message in one_line(result)
    assert not out.exists()


ORPHAN_PROBE = """
import sys, time
from pathlib import Path
from hebbdam import orphan
orphan.arm()
Path(sys.argv[1]).write_text("armed")
deadline = time.time() + 30
while not orphan.orphaned() and time.time() < deadline:
    time.sleep(0.05)
Path(sys.argv[2]).write_text(str(orphan.orphaned()))
"""


def test_a_stage_under_a_shell_that_did_not_exec_notices_its_dvc_dying(tmp_path):
    """DVC runs ``$SHELL -c "<cmd>"``; when the shell keeps running (it did not exec the command), the stage's parent
    outlives DVC, so the guard also watches the shell's parent. Here the outer process plays DVC and exits."""
    script, armed, result = tmp_path / "probe.py", tmp_path / "armed", tmp_path / "result"
    script.write_text(ORPHAN_PROBE)
    shell = f"{sys.executable} {script} {armed} {result}; true"  # `; true`: bash cannot exec the python command
    dvc_like = (
        "import subprocess, sys, time, pathlib\n"
        f"subprocess.Popen(['bash', '-c', {shell!r}])\n"
        f"while not pathlib.Path({str(armed)!r}).exists(): time.sleep(0.05)\n"
    )
    subprocess.run([sys.executable, "-c", dvc_like], check=True, timeout=60, env={**os.environ})
    deadline = time.monotonic() + 60
    while not result.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert result.read_text() == "True"
