"""The planted-break suite (``hebbdam breaks``, run by .ci/run): its patches still apply to the source, its stages
exist, and the one break that runs no stage (a NaN record) turns the gate red through the command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hebbdam.breaks import BREAKS, apply, records_of, stage_of
from hebbdam.errors import HebbdamError

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("item", [b for b in BREAKS if b.patches], ids=lambda b: b.name)
def test_each_break_patch_applies_once_and_names_real_stages(tmp_path, item):
    for name, _, _ in item.patches:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text((REPO / name).read_text(encoding="utf-8"), encoding="utf-8")
    apply(tmp_path, item.patches)
    for name, _old, new in item.patches:
        assert new in (tmp_path / name).read_text(encoding="utf-8")
    assert item.stages and all(stage_of(word) for word in item.stages)
    assert records_of(item.stages)


def test_a_stale_patch_is_a_failure_not_a_pass(tmp_path):
    (tmp_path / "f.py").write_text("x = 1\n")
    with pytest.raises(HebbdamError, match="stale"):
        apply(tmp_path, (("f.py", "x = 2", "x = 3"),))


def test_the_nan_record_break_turns_the_gate_red_through_the_command():
    result = subprocess.run(
        [sys.executable, "-m", "hebbdam.cli", "breaks", "nan_record"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "WANDB_MODE": "disabled"},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    (row,) = [line for line in result.stdout.splitlines() if line.startswith("nan_record")]
    failed, gated = map(int, row.split()[1:3])
    assert failed > 0.8 * gated and "red (caught)" in row
