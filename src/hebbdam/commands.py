"""Small commands that are not experiments."""

from __future__ import annotations

from pathlib import Path

from . import io, selection
from .composition import compose as compose_config
from .logs import say
from .stages import ROOT, pipeline_named

CONFIG_DIR = Path("conf")


def compose(args) -> None:
    """Write the composition of conf/ to --out, default the pipeline's params file (``--pipeline paper``:
    reports/paper/params.yaml, composed from conf/paper.yaml; else params.yaml from conf/config.yaml).

    Into that file, the overrides become the pipeline's kept selection (:mod:`hebbdam.selection`), so every later
    ``dvc exp run -S …`` composes from them too; a composition that fails leaves the previous selection and the params
    file as they were. Into another file (``--out``), the overrides apply to that file only.
    """
    pipeline = pipeline_named(args.pipeline or ROOT.name)  # the CLI refuses other names

    def composed(overrides: list[str]) -> str:
        return compose_config(overrides, CONFIG_DIR, config_name=pipeline.config, selection_name=pipeline.selection)

    if args.cfg:  # show, as Hydra's --cfg job does: the selection plus these overrides, nothing kept or written
        print(composed(args.overrides), end="")
        return
    params = Path(pipeline.params_file if args.params == "params.yaml" else args.params)
    out = Path(args.out or params)
    if out.resolve() != params.resolve():
        io.write_text(out, composed(args.overrides))
        say(f"composed conf/ {' '.join(args.overrides) or '(defaults)'} → {out}")
        return
    kept = selection.path(CONFIG_DIR, pipeline.selection)
    previous = kept.read_bytes() if kept.is_file() else None
    if args.reset:
        selection.reset(CONFIG_DIR, pipeline.selection)
    if args.overrides:
        selection.write(args.overrides, CONFIG_DIR, pipeline.selection)
    try:
        text = composed([])
    except BaseException:
        if previous is None:
            kept.unlink(missing_ok=True)
        else:
            io.atomic_write(kept, lambda tmp: tmp.write_bytes(previous))
        raise
    io.write_text(out, text)
    say(f"composed conf/{pipeline.config}.yaml with {selection.describe(CONFIG_DIR, pipeline.selection)} → {out}")
