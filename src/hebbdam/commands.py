"""Small commands that are not experiments."""

from __future__ import annotations

from pathlib import Path

from . import io, selection
from .composition import compose as compose_config
from .logs import say

CONFIG_DIR = Path("conf")


def compose(args) -> None:
    """Write the composition of conf/ to --out, default params.yaml.

    Into params.yaml, the overrides become the kept selection (:mod:`hebbdam.selection`), so every later ``dvc exp
    run -S …`` composes from them too; a composition that fails leaves the previous selection and params.yaml as they
    were. Into another file (``--out``), the overrides apply to that file only.
    """
    if args.cfg:  # show, as Hydra's --cfg job does: the selection plus these overrides, nothing kept or written
        print(compose_config(args.overrides, CONFIG_DIR), end="")
        return
    out = Path(args.out or args.params)
    if out.resolve() != Path(args.params).resolve():
        io.write_text(out, compose_config(args.overrides))
        say(f"composed conf/ {' '.join(args.overrides) or '(defaults)'} → {out}")
        return
    kept = selection.path(CONFIG_DIR)
    previous = kept.read_bytes() if kept.is_file() else None
    if args.reset:
        selection.reset(CONFIG_DIR)
    if args.overrides:
        selection.write(args.overrides, CONFIG_DIR)
    try:
        text = compose_config([], CONFIG_DIR)
    except BaseException:
        if previous is None:
            kept.unlink(missing_ok=True)
        else:
            io.atomic_write(kept, lambda tmp: tmp.write_bytes(previous))
        raise
    io.write_text(out, text)
    say(f"composed conf/ with {selection.describe(CONFIG_DIR)} → {out}")
