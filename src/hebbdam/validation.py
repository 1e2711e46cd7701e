"""Check a whole composed params mapping before anything runs: every value, and no key that nothing reads.

The check runs each stage's own settings parser (``parse_settings`` of its torch-free settings module in
:mod:`hebbdam.settings`, which the experiment's own parser calls too; the data, trainer, logger and rule checks), so
the rules a stage applies when it starts are exactly the rules applied here, then refuses every key that no parser
read (:class:`hebbdam.config.Params` records what is read). Nothing it imports loads torch or Lightning.

It runs inside Hydra's composition (``hebbdam compose`` and ``dvc exp run -S …``, through the ``hebbdam_check``
resolver that ``conf/config.yaml`` interpolates, so a bad value fails the composition and params.yaml is never
written), and at the CLI's door before a stage command runs (:func:`check_file`: a value typed straight into
params.yaml). It is a command-layer module: no stage's code imports it, so editing it marks no DVC stage stale.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path

from .config import Params, load_params
from .errors import ConfigError, HebbdamError
from .settings.catalogue import rule_info, rule_names
from .settings.common import precision_name, trainer_options
from .stages import EXPERIMENTS

MARKER = "checked"  # the key conf/config.yaml sets to ${hebbdam_check:}; params.yaml says `checked: true`
TOP_LEVEL = ("logger", "trainer", "rule", "data", "engine", "seed", "profile", MARKER)
PROFILES = ("laptop", "ci", "paper")
PROFILE_BLOCK = "profiles"  # the block of ci and paper sizes in conf/experiment/<x>.yaml (hydra_plugins/…)
WANDB_MODES = ("offline", "online", "disabled")


def _leaves(node: object, prefix: str = "") -> Iterator[str]:
    if isinstance(node, dict) and node:
        for key, value in node.items():
            yield from _leaves(value, f"{prefix}{key}.")
    else:
        yield prefix[:-1]


def settings_module(module: str) -> str:
    """The torch-free settings module of an experiment module: hebbdam.experiments.X → hebbdam.settings.X."""
    return module.replace(".experiments.", ".settings.", 1)


def _experiment_checks(params: Params, present) -> None:
    for stage in EXPERIMENTS:
        if not present(stage.params[0].split(".")[0]):
            continue
        name = settings_module(stage.module)
        try:
            parse = importlib.import_module(name).parse_settings
        except ModuleNotFoundError as err:
            if err.name != name:
                raise
            raise HebbdamError(
                f"stage {stage.name}: no settings module {name} (its Settings schema and parse_settings go there, "
                "torch-free: CONTRIBUTING.md, 'Add an experiment')"
            ) from err
        if stage.foreach:
            section = stage.params[0].split(".")[0]
            for item in stage.foreach:
                parse(params, f"{section}.{item}")
        else:
            parse(params)


def _check_logger(params: Params) -> None:
    logger = params.section("logger")
    logger.choice("mode", WANDB_MODES)
    logger.string("project")
    entity = logger.raw("entity", None)
    if entity is not None and (not isinstance(entity, str) or not entity):
        raise ConfigError(logger.key("entity"), "null or a W&B entity name", entity)
    folder = logger.raw("dir", None)  # null: the repository DVC runs the stage for (hebbdam.tracking.runs_root)
    if folder is not None and (not isinstance(folder, str) or not folder):
        raise ConfigError(logger.key("dir"), "null or a folder for W&B runs", folder)
    logger.number("init_timeout_s", lambda v: 0 < v <= 600, "a number of seconds in (0, 600]")


# Repetition counts: a run's time grows linearly with them. The laptop profile's values take minutes per stage; a
# count above MAX_REPEATS is refused with the estimate (the stated bound: about a day of one stage on the laptop).
REPEAT_KEYS = ("trials", "seeds", "starts")
MAX_REPEATS = 10_000
LAPTOP_STAGE_MINUTES = 5  # the order of a laptop stage's run time (README: about 1,500 s user for all stages)
MAX_SEED = 2**32 - 1  # numpy's seeds (torch takes 64 bits; the stages seed both from this one)


def _check_seed(params: Params) -> None:
    seed = params.nonneg_int("seed")
    if seed > MAX_SEED:
        raise ConfigError("seed", f"an integer in 0..{MAX_SEED} (numpy's seed range)", seed)


def _check_repeats(data: dict) -> None:
    """Refuse a repetition count (``REPEAT_KEYS``) above MAX_REPEATS, with an estimate of the time it asks for."""
    for leaf in _leaves(data):
        if leaf.rsplit(".", 1)[-1] not in REPEAT_KEYS:
            continue
        value = Params(data).raw(leaf, None)
        if isinstance(value, int) and not isinstance(value, bool) and value > MAX_REPEATS:
            days = value / 5 * LAPTOP_STAGE_MINUTES / (60 * 24)  # the laptop counts are about 5
            raise ConfigError(
                leaf,
                f"at most {MAX_REPEATS} (time grows linearly: {value:.3g} repetitions is about {days:.3g} days of "
                f"this stage at the laptop profile's sizes)",
                value,
            )


def _check_rule(params: Params) -> None:
    section = params.section("rule")
    name = section.choice("name", rule_names())
    hyper = section.raw("hyper", None) or {}
    if not isinstance(hyper, dict):
        raise ConfigError(section.key("hyper"), "a mapping of hyper-parameters", hyper)
    rule = rule_info(name)
    try:
        rule.checked(hyper)
    except (TypeError, ValueError) as err:
        raise ConfigError(section.key("hyper"), f"hyper-parameters rule '{name}' accepts ({err})", hyper) from err
    section.choice("locality", [rule.locality])  # documented in conf/rule/*.yaml: must say what the rule is
    section.choice("target", [rule.target])


def check(data: dict, complete: bool = False) -> None:
    """Raise ConfigError (one line, naming the key) at the first bad value or unknown key of ``data``.

    ``complete`` (a composition) requires every section; a params file a stage reads is checked section by section
    as far as it goes (a stage that needs a missing section names it when it reads it)."""
    if not isinstance(data, dict):
        raise HebbdamError("params: expected a mapping at the top level")
    params = Params(data)
    known_roots = set(TOP_LEVEL) | {stage.params[0].split(".")[0] for stage in EXPERIMENTS}
    for key in data:
        if key not in known_roots:
            raise HebbdamError(f"params key '{key}': unknown section (valid: {', '.join(sorted(known_roots))})")
    block = next((leaf for leaf in _leaves(data) if f".{PROFILE_BLOCK}." in f".{leaf}"), None)
    if block is not None:
        raise HebbdamError(
            f"params key '{block}': an experiment's `{PROFILE_BLOCK}:` block reached the composition: Hydra read conf/ "
            "without hebbdam's config source (src/hydra_plugins/hebbdam_profiles, asked for by conf/.profile-blocks; "
            "is hebbdam installed in this environment?)"
        )

    def present(section: str) -> bool:
        return complete or section in data

    from .data.config import check_data

    checks = [
        ("profile", lambda: params.choice("profile", PROFILES)),
        ("seed", lambda: _check_seed(params)),
        (MARKER, lambda: params.raw(MARKER, None)),
        ("logger", lambda: _check_logger(params)),
        ("rule", lambda: _check_rule(params)),
        ("engine", lambda: precision_name(params)),
        ("data", lambda: check_data(params)),
        ("trainer", lambda: trainer_options(params)),
    ]
    for section, run in checks:
        if present(section) and (section != MARKER or section in data):
            run()
    _check_repeats(data)
    _experiment_checks(params, present)
    read = {key for key in params.seen if not key.endswith(".")}
    for leaf in _leaves(data):
        if not any(leaf == key or leaf.startswith(key + ".") for key in read):
            raise HebbdamError(f"params key '{leaf}': unknown (no stage reads it; a typo?)")


def check_file(path: str | Path) -> None:
    """Load ``path`` (one-line errors for a missing or broken file) and :func:`check` it whole."""
    check(load_params(path).to_dict())


def resolve_marker(*, _root_) -> bool:
    """The ``hebbdam_check`` OmegaConf resolver: check the composition it sits in; True when it passes."""
    from omegaconf import OmegaConf

    data = {
        key: OmegaConf.to_container(_root_[key], resolve=True) if OmegaConf.is_config(_root_[key]) else _root_[key]
        for key in _root_
        if key != MARKER
    }
    try:
        check(data, complete=True)
    except HebbdamError as err:
        raise ValueError(str(err)) from None  # Hydra / OmegaConf report it; DVC writes no params.yaml
    return True


def register_resolver() -> None:
    from omegaconf import OmegaConf

    OmegaConf.register_new_resolver("hebbdam_check", resolve_marker, replace=True)
