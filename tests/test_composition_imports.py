"""Composing conf/ imports neither torch nor Lightning (hebbdam.settings holds every stage's schema), so `hebbdam
compose` and `dvc exp run -S …` take about a second, and the torch-free check refuses what the stages refuse."""

from __future__ import annotations

import json
import subprocess
import sys

from .conftest import REPO_ROOT

HEAVY = ("torch", "pytorch_lightning", "lightning", "lightning_fabric", "torchvision", "torchmetrics", "wandb")


def _loaded_after(code: str) -> dict:
    """Run ``code`` in a fresh interpreter at the repository root; the heavy modules it loaded, and what it printed."""
    probe = f"""
import json, sys
{code}
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r})
print(json.dumps(heavy))
"""
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    return {"heavy": json.loads(done.stdout.strip().splitlines()[-1]), "stderr": done.stderr}


def test_composing_imports_neither_torch_nor_lightning():
    loaded = _loaded_after("from hebbdam.composition import compose\ncompose(['profile=ci'], 'conf', selection=False)")
    assert loaded["heavy"] == [], loaded


def test_the_compose_command_imports_neither_torch_nor_lightning():
    loaded = _loaded_after("from hebbdam.cli import main\nassert main(['compose', '--cfg', 'seed=3']) == 0")
    assert loaded["heavy"] == [], loaded


def test_the_torch_free_check_refuses_a_bad_rule_value_and_a_rule_for_the_wrong_memory():
    from hebbdam.composition import compose
    from hebbdam.errors import HebbdamError

    refusals = {
        "rule=dreaming rule.hyper.t=-1": "t: expected a dreaming time ≥ 0",
        "capacity.arms.hebb_async.rule=slot": "a rule that writes pairwise for memory 'hopfield'",
        "+capacity.arms.hebb_async.hyper.t=3": "rule hebb: unknown hyper-parameter t",
    }
    for overrides, message in refusals.items():
        try:
            compose(overrides.split(), REPO_ROOT / "conf", selection=False)
        except HebbdamError as err:
            assert message in str(err), (overrides, str(err))
        else:
            raise AssertionError(f"{overrides}: composed")


def test_a_stage_without_a_settings_module_is_named_in_one_line(monkeypatch):
    from hebbdam import validation
    from hebbdam.config import load_params
    from hebbdam.errors import HebbdamError

    monkeypatch.setattr(validation, "settings_module", lambda module: "hebbdam.settings.no_such_stage")
    try:
        validation.check(load_params(REPO_ROOT / "params.yaml").to_dict(), complete=True)
    except HebbdamError as err:
        assert "stage capacity: no settings module hebbdam.settings.no_such_stage" in str(err)
    else:
        raise AssertionError("checked without a settings module")
