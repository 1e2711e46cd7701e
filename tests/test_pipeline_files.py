"""dvc.yaml is derived from the stage table and the import closures, and DVC notices what the stages import."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from .conftest import REPO_ROOT, dvc, scratch_repo


def test_committed_dvc_yaml_is_the_generated_one():
    from hebbdam.dvcyaml import render

    assert (REPO_ROOT / "dvc.yaml").read_text(encoding="utf-8") == render(), "run `make stages` and commit dvc.yaml"


def test_check_refuses_a_dvc_yaml_that_dropped_a_dependency(run_cli, tmp_path, capsys):
    text = (REPO_ROOT / "dvc.yaml").read_text(encoding="utf-8")
    stale = tmp_path / "dvc.yaml"
    stale.write_text(text.replace("    - src/hebbdam/references.py\n", "", 1), encoding="utf-8")
    assert run_cli("dvc-yaml", "--check", "--out", stale) == 2
    assert "out of date" in capsys.readouterr().err


def _deps(stage: str) -> list[str]:
    stages = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    body = stages[stage]
    return (body.get("do") or body)["deps"]


@pytest.mark.parametrize("stage", ["sequences", "retrieval", "generalisation"])
def test_stages_that_import_references_depend_on_it(stage):
    """The three stages that imported references.py without listing it (the stale-stage bug)."""
    assert "src/hebbdam/references.py" in _deps(stage)


def test_closure_follows_relative_and_lazy_imports():
    from hebbdam.closure import SOURCE_ROOT, closure

    files = {p.relative_to(SOURCE_ROOT).as_posix() for p in closure("hebbdam.experiments.retrieval")}
    assert {"experiments/retrieval.py", "experiments/common.py", "references.py", "data/corrupt.py"} <= files
    assert {"memory/__init__.py", "memory/dense.py", "__init__.py", "experiments/__init__.py"} <= files
    assert "figures/retrieval.py" not in files  # a figure is not a dependency of the experiment


def test_figures_and_report_read_every_experiment_output():
    from hebbdam.stages import METRICS_DIR, experiment_outputs, figure_modules

    for stage in ("figures", "report"):
        deps = _deps(stage)
        assert all(f"{METRICS_DIR}/{name}" in deps for name in experiment_outputs())
        assert all(
            f"src/hebbdam/figures/{name}.py" in deps or "src/hebbdam/figures" in deps for name in figure_modules()
        )


def test_figure_modules_draw_the_png_the_pipeline_declares():
    import importlib

    from hebbdam.stages import figure_modules

    for name in figure_modules():
        assert f"{name}.png" == importlib.import_module(f"hebbdam.figures.{name}").OUTPUT


def test_every_report_output_survives_a_failed_run():
    """DVC deletes non-persistent outputs before a stage runs; committed results must never be deleted."""
    stages = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    for name, body in stages.items():
        body = body.get("do") or body
        for entry in body.get("metrics", []) + body.get("outs", []):
            (path, flags), *_ = entry.items() if isinstance(entry, dict) else [(entry, {})]
            if path.startswith("reports/"):
                assert flags == {"cache": False, "persist": True}, (name, path)


def _changed_deps(root: Path, stage: str) -> dict:
    result = dvc(root, "status", stage, "--json")
    assert result.returncode == 0, result.stderr
    changes = json.loads(result.stdout or "{}").get(stage, [])
    return {k: v for change in changes if isinstance(change, dict) for k, v in change.get("changed deps", {}).items()}


@pytest.mark.slow
def test_dvc_status_marks_a_stage_whose_imported_constant_changed(tmp_path):
    """Edit a constant of a module appendix_b imports (not appendix_b.py itself): DVC must call the stage stale."""
    root = scratch_repo(tmp_path / "repo")
    committed = dvc(root, "commit", "--force", "appendix_b")  # record the copy's current state in its dvc.lock
    assert committed.returncode == 0, committed.stderr
    assert _changed_deps(root, "appendix_b") == {}
    metrics = root / "src/hebbdam/metrics.py"
    metrics.write_text(metrics.read_text(encoding="utf-8") + "\nA_NEW_CONSTANT = 80\n", encoding="utf-8")
    assert _changed_deps(root, "appendix_b") == {"src/hebbdam/metrics.py": "modified"}
