"""Weights & Biases runs: the view of a stage (the metrics JSON under reports/metrics/ is the record).

One run per stage: ``job_type`` = the stage, ``group`` = the pipeline run it belongs to (:func:`run_group`), a
readable name "<stage> · <group>", tags ``profile:<p>`` and ``rule:<r>``, the composed config and the git commit.
What a run holds:

- history: the per-step curves Lightning's ``WandbLogger`` sends while a stage trains (``train/*``, ``val/*``,
  ``hebbian/*`` against ``trainer/global_step``); a stage with several fits logs one segment per fit;
- ``curves/<y>``: the stage's curves as a ``wandb.Table`` (long format: x, y, series) with a line plot, one line per
  series — the keys carry no sizes (D, K, N live in the series column), so two runs overlay key by key;
- summary: the stage's headline numbers (the same ones as reports/metrics/headline/<stage>.json);
- the stage's figure(s) as ``wandb.Image`` and its metrics files as an artifact of type ``metrics``.

Mode: ``WANDB_MODE`` wins over ``logger.mode`` (default offline; tests use disabled). Run folders land in
``<dir>/wandb/`` with ``<dir>`` = ``WANDB_DIR``, else ``logger.dir``, else the repository DVC runs the stage for
(``DVC_ROOT``: for ``dvc exp run --queue`` that is the user's repository, not DVC's temporary copy), else the working
directory; so queued experiments keep their runs. Without the ``wandb`` package a stage prints one line and runs
untracked.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from .config import REPO_ROOT, Params
from .errors import HebbdamError
from .logs import say

GROUP_ENV = "HEBBDAM_RUN_GROUP"  # set by `make repro`: one id for every stage of one pipeline run
STEP = "trainer/global_step"


def git_commit(root: Path = REPO_ROOT) -> str:
    """The commit of the code that ran, with ``-dirty`` when tracked files differ from it; "unknown" outside git."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("-dirty" if dirty else "")


def run_group() -> str:
    """The W&B group of this stage's run: the DVC experiment's name (``dvc exp run`` sets ``DVC_EXP_NAME``), else
    the pipeline-run id ``make repro`` exports (``HEBBDAM_RUN_GROUP``), else the code's commit ("commit-<sha7>")."""
    for variable in ("DVC_EXP_NAME", GROUP_ENV):
        if os.environ.get(variable):
            return os.environ[variable]
    commit = git_commit()
    return "commit-" + (commit[:7] + ("-dirty" if commit.endswith("-dirty") else "") if commit != "unknown" else commit)


def runs_root(params: Params) -> Path:
    """The folder that holds ``wandb/``: WANDB_DIR, else logger.dir, else DVC_ROOT, else the working directory."""
    chosen = os.environ.get("WANDB_DIR") or params.raw("logger.dir", None) or os.environ.get("DVC_ROOT") or "."
    return Path(chosen).expanduser()


class Tracker:
    """A stage's W&B run, or nothing (``run=None``: wandb missing) — every method is then a no-op."""

    def __init__(self, run=None):
        self.run = run

    @property
    def active(self) -> bool:
        return self.run is not None and not getattr(self.run, "disabled", False)

    def summary(self, values: Mapping[str, object]) -> None:
        """Summary values; a null (no crossing measured) stays null, so two runs keep the same keys."""
        if self.run is not None:
            self.run.summary.update(values)

    def curves(self, rows: list[dict], x: str, ys: tuple[str, ...], series: str = "series", title: str = "") -> None:
        """Long-format rows → a table ``curves/<y>`` per y with a line plot (x against y, one line per series)."""
        if not self.active or not rows:
            return
        import wandb

        for y in ys:
            table = wandb.Table(
                columns=[x, y, series], data=[[r[x], r[y], r[series]] for r in rows if r.get(y) is not None]
            )
            plot = wandb.plot.line(table, x, y, stroke=series, title=f"{title}: {y} against {x}".strip(": "))
            self.run.log({f"curves/{y}": plot})

    def history(self, label: str, columns: tuple[str, ...], rows: list[list[float]]) -> None:
        """One fit's history, computed elsewhere (a worker process logs nothing): a row → ``<label>/<column>``."""
        if self.active:
            for row in rows:
                self.run.log({f"{label}/{column}": value for column, value in zip(columns, row, strict=True)})

    def images(self, paths: list[Path]) -> None:
        if self.active and paths:
            import wandb

            self.run.log({f"figures/{Path(p).stem}": wandb.Image(str(p)) for p in paths})

    def files(self, name: str, paths: dict[str, Path]) -> None:
        """The stage's metrics files (name in the artifact → path) as one artifact of type ``metrics``."""
        if not self.active or not paths:
            return
        import wandb

        artifact = wandb.Artifact(name, type="metrics")
        for file_name, path in paths.items():
            artifact.add_file(str(path), name=file_name)
        self.run.log_artifact(artifact)


def lightning_logger():
    """A ``WandbLogger`` on the open W&B run (so ``self.log`` curves land in it per step), or False if none."""
    try:
        import wandb
    except ImportError:
        return False
    run = wandb.run
    if run is None or getattr(run, "disabled", False):
        return False
    from pytorch_lightning.loggers import WandbLogger

    return WandbLogger(experiment=run)


@contextmanager
def stage_run(params: Params, stage: str, config: dict) -> Iterator[Tracker]:
    """Open the W&B run of one stage; ``finish()`` always runs, also when the stage fails."""
    mode = os.environ.get("WANDB_MODE") or params.string("logger.mode", "offline")
    os.environ.setdefault("WANDB_SILENT", "true")
    try:
        import wandb
    except ImportError:
        say(f"{stage}: W&B tracking off (the wandb package is not installed; pip install wandb to track runs)")
        yield Tracker(None)
        return
    group = run_group()
    profile, rule = params.raw("profile", "unknown"), params.raw("rule.name", "none")
    root = runs_root(params)
    root.mkdir(parents=True, exist_ok=True)
    try:
        run = wandb.init(
            project=params.string("logger.project", "hebbdam"),
            entity=params.raw("logger.entity", None),
            group=group,
            job_type=stage,
            name=f"{stage} · {group}",
            tags=[f"profile:{profile}", f"rule:{rule}"],
            config={**config, "git_commit": git_commit(), "profile": profile, "rule": rule},
            mode=mode,  # type: ignore[arg-type]  # wandb's Settings take WANDB_MODE's "dryrun"/"run" too; init's Literal omits them
            dir=str(root),
            settings=wandb.Settings(init_timeout=float(params.raw("logger.init_timeout_s", 30)), silent=True),
        )
    except Exception as err:  # wandb raises many types; the user needs one line, not a traceback
        raise HebbdamError(
            f"W&B could not start a run in mode '{mode}' ({type(err).__name__}: {err}); "
            "set WANDB_MODE=offline to log locally, or WANDB_MODE=disabled"
        ) from err
    run.define_metric(STEP)
    for family in ("train/*", "val/*", "hebbian/*"):
        run.define_metric(family, step_metric=STEP)
    try:
        yield Tracker(run)
    finally:
        run.finish()
        if mode == "offline" and getattr(run, "dir", None):
            folder = Path(run.dir).parent
            say(f"W&B run '{stage} · {group}' saved offline in {folder} (upload: wandb sync {folder})")


def figure_images(files: dict[str, Path]) -> list[Path]:
    """Draw the registered figures that read one of ``files`` (name → path) and whose inputs all exist beside
    them, into a temporary folder; their PNG paths (the figures stage draws the committed ones)."""
    import importlib

    from . import io

    # by computed name, on purpose: a figure is a view of the record, so the stages' import closures (their DVC
    # dependencies) must not include the figure code (a new colour would otherwise rerun every experiment)
    figures = importlib.import_module("hebbdam.figures")
    save = importlib.import_module("hebbdam.figures.style").save

    folder = next(iter(files.values())).parent
    out = Path(tempfile.mkdtemp(prefix="hebbdam-figures-"))
    drawn = []
    for name in figures.FIGURES:
        module = importlib.import_module(f"hebbdam.figures.{name}")
        inputs = list(module.INPUTS)
        if not set(inputs) & set(files) or not all((folder / f).exists() for f in inputs):
            continue
        metrics = {f: io.read_json(folder / f) for f in inputs}
        drawn.append(save(module.draw(metrics), out / module.OUTPUT))
    return drawn
