"""``hebbdam download`` and ``hebbdam prepare``: the data stages, driven by the ``data:`` section of params.yaml.

Positional words restrict a run to some sources (``hebbdam download mnist``); by default every name in
``data.sources`` is handled. Offline sources (digits, synthetic) need no download.
"""

from __future__ import annotations

from pathlib import Path

from .. import io
from ..config import Params, load_params
from ..errors import ConfigError
from ..logs import say
from . import sources
from .download import download as download_source
from .prepare import PrepareConfig, SyntheticConfig, verify_raw
from .prepare import prepare as prepare_source


def _section(args) -> Params:
    return load_params(args.params).section("data")


def _sources(data: Params, words: list[str]) -> list[str]:
    names = data.raw("sources")
    if not isinstance(names, list) or not names or any(n not in sources.ALL for n in names):
        raise ConfigError(data.key("sources"), f"a non-empty list of names among {', '.join(sources.ALL)}", names)
    for word in words or []:
        if word not in names:
            raise ConfigError(data.key("sources"), f"a list containing {word!r} (asked for on the command line)", names)
    return list(words) if words else list(dict.fromkeys(names))


def _optional_string(data: Params, name: str) -> str | None:
    value = data.raw(name, None)
    if value is not None and (not isinstance(value, str) or not value):
        raise ConfigError(data.key(name), "null or a non-empty URL or folder path", value)
    return value


def _mirrors(data: Params) -> dict[str, str]:
    value = data.raw("mirrors", None) or {}
    if not isinstance(value, dict) or any(k not in sources.REMOTE or not isinstance(v, str) for k, v in value.items()):
        raise ConfigError(data.key("mirrors"), f"a mapping from {', '.join(sources.REMOTE)} to a URL", value)
    return value


def check_data(params: Params) -> None:
    """Every key of the ``data:`` section, checked as download and prepare read it (nothing downloaded)."""
    data = params.section("data")
    _sources(data, [])
    data.string("root", "data")
    _optional_string(data, "mirror")
    _mirrors(data)
    data.number("timeout_s", lambda v: v > 0, "a number of seconds > 0", 60)
    prepare_config(data)


def download(args) -> None:
    """Fetch the downloaded sources of ``data.sources`` into ``<data.root>/raw/<name>/`` and record their md5s."""
    data = _section(args)
    names = _sources(data, args.overrides)
    root = Path(data.string("root", "data"))
    mirror, mirrors = _optional_string(data, "mirror"), _mirrors(data)
    timeout = data.number("timeout_s", lambda v: v > 0, "a number of seconds > 0", 60)
    record: dict[str, dict[str, str]] = {}
    for name in names:
        if name in sources.REMOTE:
            record[name] = download_source(name, root, mirror, mirrors, timeout=timeout)
            say(f"{name}: {len(record[name])} files present and verified in {root / 'raw' / name}")
    if not record:
        say(f"download: {', '.join(names)} are offline sources; nothing to download")
    if not args.overrides:
        io.write_json(root / "raw" / "downloads.json", record)


def prepare_config(data: Params) -> PrepareConfig:
    """The checked PrepareConfig of a ``data:`` section."""
    threshold = data.raw("binarize_threshold", 0.5)
    if threshold is not None:
        threshold = data.fraction("binarize_threshold", threshold)
    test_fraction = data.number("test_fraction", lambda v: 0.0 <= v < 1.0, "a number in [0, 1)", 0.2)
    synthetic = SyntheticConfig()
    if data.has("synthetic"):
        s = data.section("synthetic")
        synthetic = SyntheticConfig(
            count=s.positive_int("count", synthetic.count),
            dim=s.positive_int("dim", synthetic.dim),
            epsilon=s.number("epsilon", lambda v: -1.0 <= v <= 1.0, "a number in [-1, 1]", synthetic.epsilon),
            parents=s.positive_int("parents", synthetic.parents),
            overlap=s.fraction("overlap", synthetic.overlap),
        )
    return PrepareConfig(
        root=Path(data.string("root", "data")),
        seed=data.nonneg_int("seed", 0),
        test_fraction=test_fraction,
        binarize_threshold=threshold,
        synthetic=synthetic,
    )


def prepare(args) -> None:
    """Write ``<data.root>/processed/<name>.pt`` and ``<name>.json`` for every source of ``data.sources``."""
    data = _section(args)
    names = _sources(data, args.overrides)
    config = prepare_config(data)
    for name in names:  # every raw input present and intact before any output is written
        verify_raw(name, config.root)
    for name in names:
        manifest = prepare_source(name, config)
        shapes = ", ".join(f"{k} {tuple(manifest['tensors'][k]['shape'])}" for k in ("x_train", "x_test"))
        say(f"{name}: {shapes} → {config.root / 'processed' / manifest['file']} (sha256 {manifest['sha256'][:12]})")
