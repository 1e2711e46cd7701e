"""Weights & Biases runs: the view of an experiment (the metrics JSON under reports/ is the record).

Mode comes from ``WANDB_MODE`` (default ``offline``: runs land in ``wandb/`` and ``wandb sync`` uploads them later);
tests set ``disabled``. Every run has group = experiment, job_type = stage, the stage's params and the git commit.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .config import REPO_ROOT, Params
from .errors import HebbdamError
from .logs import say


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


@contextmanager
def wandb_run(params: Params, experiment: str, stage: str, config: dict) -> Iterator[object]:
    """Open a W&B run for one stage; ``wandb.finish()`` always runs, also when the stage fails."""
    mode = os.environ.get("WANDB_MODE") or params.string("logger.mode", "offline")
    os.environ.setdefault("WANDB_SILENT", "true")
    import wandb

    root = Path(os.environ.get("WANDB_DIR") or params.string("logger.dir", "."))
    root.mkdir(parents=True, exist_ok=True)
    full_config = {**config, "git_commit": git_commit(), "profile": params.raw("profile", "unknown")}
    try:
        run = wandb.init(
            project=params.string("logger.project", "hebbdam"),
            entity=params.raw("logger.entity", None),
            group=experiment,
            job_type=stage,
            config=full_config,
            mode=mode,
            dir=str(root),
            settings=wandb.Settings(init_timeout=float(params.raw("logger.init_timeout_s", 30)), silent=True),
        )
    except Exception as err:  # wandb raises many types; the user needs one line, not a traceback
        raise HebbdamError(
            f"W&B could not start a run in mode '{mode}' ({type(err).__name__}: {err}); "
            "set WANDB_MODE=offline to log locally"
        ) from err
    try:
        yield run
    finally:
        run.finish()
        if mode == "offline" and getattr(run, "dir", None):
            say(f"W&B run saved offline under {Path(run.dir).parent} (upload: wandb sync {Path(run.dir).parent})")
