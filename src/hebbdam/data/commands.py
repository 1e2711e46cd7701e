"""``hebbdam download`` and ``hebbdam prepare``: the data stages, driven by the ``data:`` section of params.yaml.

Positional words restrict a run to some sources (``hebbdam download mnist``); by default every name in
``data.sources`` is handled. Offline sources (digits, synthetic) need no download.
"""

from __future__ import annotations

from pathlib import Path

from .. import io
from ..config import Params, load_params
from ..logs import say
from . import sources
from .config import _mirrors, _optional_string, _sources, prepare_config
from .download import download as download_source
from .prepare import prepare as prepare_source
from .prepare import verify_raw


def _section(args) -> Params:
    return load_params(args.params).section("data")


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
