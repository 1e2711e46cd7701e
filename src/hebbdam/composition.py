"""Compose ``conf/`` into params.yaml text with Hydra, checked by :mod:`hebbdam.validation` on the way.

A command-layer module: the check runs every stage's settings parser, so composing sits above the experiments, never
in the base layer (``hebbdam.config`` only reads a params file and imports nothing above it).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import yaml

from .errors import HebbdamError


def compose(
    overrides: Sequence[str] = (),
    config_dir: str | Path = "conf",
    selection: bool = True,
    config_name: str = "config",
    selection_name: str = "current",
) -> str:
    """Compose ``conf/<config_name>.yaml`` with Hydra overrides into the YAML text ``dvc exp run`` would write to
    params.yaml (``config``: the root pipeline's; ``paper``: the paper pipeline's, :data:`hebbdam.stages.PAPER`).

    ``selection``: start from the user's kept selection (``conf/selection/<selection_name>.yaml``,
    :mod:`hebbdam.selection`) when there is one, as DVC does; False composes the repository's defaults alone (tests,
    the params check).
    """
    from .selection import path as selection_path

    if not selection and selection_path(config_dir, selection_name).is_file():
        overrides = ["~selection", *overrides]  # Hydra refuses to delete an optional default that is absent
    if not Path(config_dir, f"{config_name}.yaml").is_file():
        raise HebbdamError(f"{Path(config_dir) / f'{config_name}.yaml'}: not found (run from the repository root)")
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from .validation import register_resolver

    register_resolver()  # also registered by Hydra's plugin scan (src/hydra_plugins/hebbdam_check), DVC's included
    try:
        with initialize_config_dir(str(Path(config_dir).resolve()), version_base=None):
            cfg = hydra_compose(config_name=config_name, overrides=list(overrides))
        OmegaConf.resolve(cfg)
    except (HydraException, OmegaConfBaseException, yaml.YAMLError) as err:
        cause = err if str(err).strip() or err.__cause__ is None else err.__cause__  # Hydra may wrap with no text
        lines = [line.strip() for line in str(cause).strip().splitlines() if line.strip()] or [type(cause).__name__]
        if "resolving interpolation" in lines[0]:  # our own check (hebbdam.validation): its one line is the message
            lines = [lines[0].split("resolving interpolation: ", 1)[1]]
        detail = " ".join(lines)
        raise HebbdamError(f"cannot compose conf/ with overrides {list(overrides)}: {detail}") from err
    return OmegaConf.to_yaml(cfg)
