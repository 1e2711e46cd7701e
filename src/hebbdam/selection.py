"""The user's selection: what ``hebbdam compose`` (``make params OVERRIDES=…``) was told, kept where DVC sees it.

``dvc exp run -S …`` recomposes params.yaml from ``conf/`` with its own overrides only, so a profile chosen with
``make params OVERRIDES="profile=ci"`` used to be dropped by the next experiment. The selection is therefore written
into the configuration itself, as ``conf/selection/current.yaml`` (a ``_global_`` config that
``conf/config.yaml`` loads last, when it exists, as ``optional selection: current``): a config-group choice becomes
``override /<group>: <option>`` in its defaults list, a ``key=value`` becomes that value. Every later composition —
``make params``, ``dvc exp run -S …``, a queued experiment — starts from it. The file is untracked (git status shows
it); ``hebbdam compose --reset`` deletes it and returns to the defaults of ``conf/``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import yaml

from . import io
from .errors import HebbdamError

SELECTION = Path("selection") / "current.yaml"  # under the config folder: the root pipeline's


def path(config_dir: str | Path, name: str = "current") -> Path:
    """The selection file ``name`` (``current``: the root pipeline's; ``paper``: the paper pipeline's, which
    ``conf/paper.yaml`` loads instead)."""
    return Path(config_dir) / SELECTION.parent / f"{name}.yaml"


def _is_group(config_dir: Path, key: str) -> bool:
    return (config_dir / key).is_dir() and key != "selection"


def as_config(overrides: Sequence[str], config_dir: str | Path) -> dict:
    """Hydra override strings → the selection config: {"defaults": [{"override /g": o}, …], key: value, …}.

    A deletion (``~key``) or a sweep cannot be kept as a configuration and is refused in one line.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    config_dir = Path(config_dir)
    try:
        parsed = OverridesParser.create().parse_overrides(list(overrides))
    except HydraException as err:
        raise HebbdamError(f"compose: cannot parse overrides {list(overrides)}: {err}") from err
    config: dict = {}
    defaults: list[dict] = []
    for override in parsed:
        text = override.input_line
        if override.is_delete() or override.is_sweep_override():
            raise HebbdamError(
                f"compose: '{text}' cannot be kept as a selection (a deletion or a sweep); pass it to `dvc exp run -S`"
            )
        key = override.key_or_group
        if _is_group(config_dir, key) and override.package is None:
            defaults.append({f"override /{key}": override.value()})
            continue
        node = config
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise HebbdamError(f"compose: '{text}' sets a key inside '{part}', which another override set")
        node[leaf] = override.value()
    return {"defaults": defaults, **config} if defaults else config


def _pipeline_option(name: str) -> str:
    return "" if name == "current" else f"--pipeline {name} "


def write(overrides: Sequence[str], config_dir: str | Path, name: str = "current") -> Path:
    """Keep ``overrides`` as the selection ``name`` (replacing the previous one)."""
    command = f"hebbdam compose {_pipeline_option(name)}"
    text = (
        "# @package _global_\n"
        f"# Written by `{command}{' '.join(overrides)}`: kept for every later composition (make params,\n"
        f"# dvc exp run -S …). `{command}--reset` deletes it. Untracked on purpose: it is your choice, not the\n"
        "# repository's defaults.\n" + yaml.safe_dump(as_config(overrides, config_dir), sort_keys=False)
    )
    return io.write_text(path(config_dir, name), text)


def reset(config_dir: str | Path, name: str = "current") -> bool:
    """Delete the selection ``name``; True when there was one."""
    target = path(config_dir, name)
    existed = target.is_file()
    target.unlink(missing_ok=True)
    return existed


def describe(config_dir: str | Path, name: str = "current") -> str:
    """One line naming the active selection ``name``, for the compose command's message."""
    target = path(config_dir, name)
    if not target.is_file():
        return "no selection (the defaults of conf/)"
    lines = [line for line in target.read_text(encoding="utf-8").splitlines() if line.startswith("# Written by")]
    return f"selection {target} ({lines[0][2:].split(':')[0] if lines else 'hand-written'})"
