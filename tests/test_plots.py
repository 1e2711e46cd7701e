"""Every plot target of dvc.yaml renders: ``dvc plots show --json`` in a copy of the repository (the committed
curves files) reports no error, and no panel draws more lines than a 10-colour palette tells apart."""

from __future__ import annotations

import collections
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hebbdam.breaks import copy_tree
from hebbdam.config import REPO_ROOT
from hebbdam.stages import EXPERIMENTS, METRICS_DIR

pytestmark = pytest.mark.slow  # one `dvc plots show` over every target, about 5-10 s

MAX_LINES_PER_PANEL = 12  # budget_images: 12 (K × masking × seed) per arm × condition panel


def plot_targets() -> list[str]:
    """The plot ids of the committed dvc.yaml: named curve plots and figure image paths."""
    plots = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text(encoding="utf-8"))["plots"]
    return [next(iter(plot)) if isinstance(plot, dict) else plot for plot in plots]


@pytest.fixture(scope="module")
def shown(tmp_path_factory) -> dict:
    """``dvc plots show --json`` over every target, run in a git copy of the tracked files."""
    dvc = str(Path(sys.executable).with_name("dvc"))  # the venv's, whatever PATH says
    repo = copy_tree(tmp_path_factory.mktemp("plots"), REPO_ROOT)
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    result = subprocess.run([dvc, "plots", "show", "--json"], cwd=repo, check=True, capture_output=True, text=True)
    return json.loads(result.stdout)


@pytest.mark.parametrize("target", plot_targets())
def test_every_plot_target_renders(shown, target):
    errors = [e for e in shown.get("errors", []) if e.get("name") == target]
    assert errors == [], errors
    assert shown["data"].get(target), f"{target}: nothing rendered"


def panel_lines(rows: list[dict], y: str, facet: tuple[str, ...]) -> int:
    """The most lines (distinct ``series``) any one panel of the plot draws: rows split by the ``facet`` fields."""
    panels = collections.defaultdict(set)
    for row in rows:
        if row.get(y) is not None:
            panels[tuple(row.get(field) for field in facet)].add(row["series"])
    return max(len(lines) for lines in panels.values())


@pytest.mark.parametrize("plot", [p for s in EXPERIMENTS for p in s.plots], ids=lambda p: p.name)
def test_no_panel_draws_more_lines_than_a_palette_tells_apart(plot):
    rows = json.loads((REPO_ROOT / METRICS_DIR / plot.file).read_text(encoding="utf-8"))
    assert panel_lines(rows, plot.y, plot.facet) <= MAX_LINES_PER_PANEL, plot.facet


def test_a_crowded_panel_is_caught():
    rows = [{"series": f"arm{i} D={d}", "arm": f"arm{i}", "y": 0.5} for i in range(5) for d in range(4)]
    assert panel_lines(rows, "y", ()) == 20 and panel_lines(rows, "y", ("arm",)) == 4


def test_a_stage_writes_curve_rows_with_one_key_set():
    """What run_stage does to each curves table before writing it (DVC refuses rows with different keys)."""
    from hebbdam.experiments.common import uniform_rows

    rows = uniform_rows([{"K": 1, "spurious": 0.5}, {"K": 2, "spurious": 0.0, "at_attractor_spurious": 0.2}])
    assert [set(row) for row in rows] == [{"K", "spurious", "at_attractor_spurious"}] * 2
    assert rows[0]["at_attractor_spurious"] is None and rows[1]["at_attractor_spurious"] == 0.2
