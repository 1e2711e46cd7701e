"""Small commands that are not experiments."""

from __future__ import annotations

from pathlib import Path

from . import io, selection
from .composition import compose as compose_config
from .errors import HebbdamError
from .logs import say
from .stages import PIPELINES, ROOT, Pipeline, pipeline_named

CONFIG_DIR = Path("conf")


def _pipeline(name: str | None) -> Pipeline:
    try:
        return pipeline_named(name or ROOT.name)
    except KeyError:
        valid = ", ".join(pipeline.name for pipeline in PIPELINES)
        raise HebbdamError(f"compose: unknown pipeline '{name}'; valid: {valid}") from None


def compose(args) -> None:
    """Write the composition of conf/ to --out, default the pipeline's params file (``--pipeline paper``:
    reports/paper/params.yaml, composed from conf/paper.yaml; else params.yaml from conf/config.yaml).

    Into that file, the overrides become the pipeline's kept selection (:mod:`hebbdam.selection`), so every later
    ``dvc exp run -S …`` composes from them too; a composition that fails leaves the previous selection and the params
    file as they were. Into another file (``--out``), the overrides apply to that file only.
    """
    pipeline = _pipeline(args.pipeline)
    names = {"config_name": pipeline.config, "selection_name": pipeline.selection}
    if args.cfg:  # show, as Hydra's --cfg job does: the selection plus these overrides, nothing kept or written
        print(compose_config(args.overrides, CONFIG_DIR, **names), end="")
        return
    params = Path(pipeline.params_file if args.params == "params.yaml" else args.params)
    out = Path(args.out or params)
    if out.resolve() != params.resolve():
        io.write_text(out, compose_config(args.overrides, **names))
        say(f"composed conf/ {' '.join(args.overrides) or '(defaults)'} → {out}")
        return
    kept = selection.path(CONFIG_DIR, pipeline.selection)
    previous = kept.read_bytes() if kept.is_file() else None
    if args.reset:
        selection.reset(CONFIG_DIR, pipeline.selection)
    if args.overrides:
        selection.write(args.overrides, CONFIG_DIR, pipeline.selection)
    try:
        text = compose_config([], CONFIG_DIR, **names)
    except BaseException:
        if previous is None:
            kept.unlink(missing_ok=True)
        else:
            io.atomic_write(kept, lambda tmp: tmp.write_bytes(previous))
        raise
    io.write_text(out, text)
    say(f"composed conf/{pipeline.config}.yaml with {selection.describe(CONFIG_DIR, pipeline.selection)} → {out}")
