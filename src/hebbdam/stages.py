"""The pipeline's one source of truth: every DVC stage, what it runs, reads and writes.

``dvc.yaml`` is generated from this table (``hebbdam dvc-yaml``; a test fails when the committed file differs), and
so are the command table of ``hebbdam``, the figures the ``figures`` stage draws and the inputs of ``figures`` and
``report``. A stage's code dependencies are the import closure of its module (:mod:`hebbdam.closure`), never a list
typed by hand, so a file a stage imports cannot be left out.

The data and summary stages are declared below; each experiment declares its own stage in its settings module
(``STAGES`` in ``hebbdam.settings.<name>``, :class:`~hebbdam.stage_spec.Stage` with a ``position``), and
:func:`experiment_stages` collects them, so adding an experiment edits no shared table: its settings module (schema
and stage), its module under ``experiments/`` (a ``main(args)``), its figure module under ``figures/``, its test, and
its config ``conf/experiment/<name>.yaml`` (its ci and paper sizes in its ``profiles:`` block; one defaults line
in ``conf/config.yaml``). Then ``make stages`` rewrites dvc.yaml and params.yaml.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass

from . import settings
from .stage_spec import Plot, Stage

__all__ = ["Plot", "Stage"]  # the declarations, re-exported for the commands that read the table

METRICS_DIR = "reports/metrics"
FIGURES_DIR = "reports/figures"


@dataclass(frozen=True)
class Pipeline:
    """One DVC project of the repository, running every stage of the table below on its own params and outputs.

    ``project`` is the folder that holds its ``dvc.yaml``, ``params.yaml``, ``dvc.lock`` and ``.dvc/`` ("" for the
    repository root); ``config`` the primary config under ``conf/`` that composes its params.yaml; ``selection`` the
    name of its kept selection (``conf/selection/<name>.yaml``, :mod:`hebbdam.selection`); ``reports`` the folder of
    its results and ``data`` its data root (DVC keeps a project's outputs inside the project). The paper pipeline is
    a DVC project of its own (``dvc init --subdir``), so the root's ``dvc repro``, ``dvc status``, ``dvc exp run`` and
    ``dvc plots show`` never see it, and reproducing one pipeline never touches the other's files.
    """

    name: str
    project: str
    config: str
    selection: str
    reports: str
    data: str

    @property
    def metrics_dir(self) -> str:
        return f"{self.reports}/metrics"

    @property
    def figures_dir(self) -> str:
        return f"{self.reports}/figures"

    @property
    def params_file(self) -> str:
        return f"{self.project}/params.yaml" if self.project else "params.yaml"

    @property
    def dvc_yaml(self) -> str:
        return f"{self.project}/dvc.yaml" if self.project else "dvc.yaml"


ROOT = Pipeline("root", "", config="config", selection="current", reports="reports", data="data")
PAPER = Pipeline(
    "paper", "reports/paper", config="paper", selection="paper", reports="reports/paper", data="reports/paper/data"
)
PIPELINES: tuple[Pipeline, ...] = (ROOT, PAPER)


def pipeline_named(name: str) -> Pipeline:
    for pipeline in PIPELINES:
        if pipeline.name == name:
            return pipeline
    raise KeyError(name)


def stage_modules() -> list[str]:
    """The settings modules that declare experiment stages (``STAGES``), by name: read by :func:`experiment_stages`
    through a computed import, so the figures and report stages, which read the table, list them as dependencies
    (:mod:`hebbdam.dvcyaml`)."""
    names = [f"{settings.__name__}.{info.name}" for info in pkgutil.iter_modules(settings.__path__)]
    return [name for name in sorted(names) if hasattr(importlib.import_module(name), "STAGES")]


def experiment_stages() -> tuple[Stage, ...]:
    """Every experiment's stage, from its settings module, in ``position`` order (names and positions unique)."""
    stages = [stage for name in stage_modules() for stage in importlib.import_module(name).STAGES]
    stages.sort(key=lambda stage: stage.position)
    for field_name in ("name", "position"):
        values = [getattr(stage, field_name) for stage in stages]
        repeated = sorted({str(v) for v in values if values.count(v) > 1})
        if repeated:
            raise ValueError(f"experiment stages: {field_name} declared twice: {', '.join(repeated)}")
    return tuple(stages)


DATA_STAGES: tuple[Stage, ...] = (
    Stage(
        name="download",
        entry="hebbdam.data.commands:download",
        help="fetch the downloaded data.sources into data/raw",
        params=("data.sources",),  # mirror and timeout are not tracked: they cannot change verified bytes
        extra={"outs": [{"data/raw": {"persist": True}}]},  # never deleted before a rerun
    ),
    Stage(
        name="prepare",
        entry="hebbdam.data.commands:prepare",
        help="data.sources → data/processed/<name>.pt + manifest",
        params=("data.sources", "data.seed", "data.test_fraction", "data.binarize_threshold", "data.synthetic"),
        extra={"deps": ["data/raw"], "outs": ["data/processed"]},
    ),
)

EXPERIMENTS: tuple[Stage, ...] = experiment_stages()

SUMMARY_STAGES: tuple[Stage, ...] = (
    Stage(
        name="figures",
        entry="hebbdam.figures:main",
        help="draw every figure from the metrics JSON files",
        params=(),
    ),
    Stage(
        name="report",
        entry="hebbdam.report:main",
        help="reports/README.md: every figure, measured against published",
        params=(),
    ),
)

STAGES: tuple[Stage, ...] = DATA_STAGES + EXPERIMENTS + SUMMARY_STAGES


def experiment_outputs() -> list[str]:
    """Every metrics and curves file the experiment stages write (names under reports/metrics), in stage order."""
    return [name for stage in EXPERIMENTS for name in stage.expanded("records") + stage.expanded("curves")]


def figure_modules() -> list[str]:
    """Figure modules (under hebbdam.figures) in report order."""
    return [name for stage in EXPERIMENTS for name in stage.figures]


def stage_options(stage: Stage, pipeline: Pipeline) -> list[str]:
    """The options that point ``hebbdam <stage>`` at ``pipeline``'s params file and folders (run from the repository
    root): none for the root pipeline, whose files are the commands' defaults."""
    if pipeline is ROOT:
        return []
    options = ["--params", pipeline.params_file]
    if stage in EXPERIMENTS:
        options += ["--out", pipeline.metrics_dir]
    elif stage.name == "figures":
        options += ["--metrics", pipeline.metrics_dir, "--out", pipeline.figures_dir]
    elif stage.name == "report":
        options += ["--metrics", pipeline.metrics_dir, "--out", f"{pipeline.reports}/README.md"]
    return options


def stage_named(name: str) -> Stage:
    for stage in STAGES:
        if stage.name == name:
            return stage
    raise KeyError(name)
