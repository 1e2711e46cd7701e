"""Small commands that are not experiments."""

from __future__ import annotations

from pathlib import Path

from . import io
from .config import compose as compose_config
from .logs import say


def compose(args) -> None:
    """Write the composition of conf/ (plus overrides) to --out, default params.yaml."""
    out = Path(args.out or args.params)
    io.write_text(out, compose_config(args.overrides))
    say(f"composed conf/ {' '.join(args.overrides) or '(defaults)'} → {out}")
