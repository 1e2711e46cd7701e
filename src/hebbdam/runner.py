"""``hebbdam run-pipeline [stage …]``: the stages of dvc.yaml in pipeline order, for a machine without DVC.

A GPU box with no network may lack ``dvc``; this runs the same commands, in the same order, from the same stage table
(:mod:`hebbdam.stages`), each as its own process like DVC does. It does not skip up-to-date stages and writes no
dvc.lock: run ``dvc commit`` (or ``dvc repro``) where DVC is installed to record the results.
"""

from __future__ import annotations

import subprocess
import sys
import time

from .errors import HebbdamError
from .logs import say
from .stages import ROOT, STAGES, Pipeline, pipeline_named, stage_options


def commands(names: list[str], pipeline: Pipeline = ROOT) -> list[list[str]]:
    """The argv of each stage to run (every stage when ``names`` is empty), foreach stages once per item, pointed at
    ``pipeline``'s params file and folders as its dvc.yaml points them (run from the repository root)."""
    chosen = [stage for stage in STAGES if not names or stage.name in names]
    argvs = []
    for stage in chosen:
        for item in stage.foreach or (None,):
            argvs.append(["hebbdam", stage.command, *([item] if item else []), *stage_options(stage, pipeline)])
    return argvs


def main(args) -> None:
    pipeline = pipeline_named(args.pipeline or ROOT.name)  # the CLI refuses other names
    for argv in commands(args.words, pipeline):
        if pipeline is ROOT:
            argv = [*argv, "--params", args.params]
        say(f"run-pipeline: {' '.join(argv)}")
        start = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "hebbdam.cli", *argv[1:]], check=False)
        if result.returncode != 0:
            raise HebbdamError(
                f"run-pipeline: `{' '.join(argv)}` failed with exit code {result.returncode}; later stages not run"
            )
        say(f"run-pipeline: {argv[1]} took {time.perf_counter() - start:.0f} s")
