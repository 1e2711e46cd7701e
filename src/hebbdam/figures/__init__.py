"""Figures: each module reads metrics JSON files only (never recomputes) and draws one PNG.

A figure module exposes INPUTS (metrics file names), OUTPUT (``<module name>.png``) and ``draw(metrics) -> Figure``;
the stage that owns it lists it in :mod:`hebbdam.stages`.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from .. import io
from ..logs import say
from ..stages import figure_modules

# module names under hebbdam.figures, in drawing order: declared by each stage in hebbdam.stages
FIGURES = figure_modules()


def draw_all(metrics_dir: Path, figures_dir: Path, names: list[str] | None = None) -> list[Path]:
    from .style import save

    written = []
    for name in names or FIGURES:
        module = importlib.import_module(f"{__name__}.{name}")
        metrics = {file: io.read_json(metrics_dir / file) for file in module.INPUTS}
        written.append(save(module.draw(metrics), figures_dir / module.OUTPUT))
        say(f"figure {figures_dir / module.OUTPUT}")
    return written


def main(args) -> None:
    """Draw every registered figure from reports/metrics into reports/figures (or --out)."""
    metrics_dir = Path(args.metrics or "reports/metrics")
    draw_all(metrics_dir, Path(args.out or "reports/figures"), args.words or None)
