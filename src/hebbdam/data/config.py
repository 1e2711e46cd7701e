"""The ``data:`` section checked as the data stages read it, without torch: the sources, mirrors and timeout that
``hebbdam download`` reads and the :class:`PrepareConfig` of ``hebbdam prepare`` (moved here from ``data.commands``
and ``data.prepare`` so that the composition check, :mod:`hebbdam.validation`, imports no torch)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..config import Params
from ..errors import ConfigError
from . import sources


@dataclass(frozen=True)
class SyntheticConfig:
    """Correlated ±1 patterns: ``count`` rows of width ``dim`` around ``parents`` parents (P(+1) = (1+ε)/2)."""

    count: int = 2000
    dim: int = 100
    epsilon: float = 0.0
    parents: int = 10
    overlap: float = 0.5


@dataclass(frozen=True)
class PrepareConfig:
    root: Path = Path("data")
    seed: int = 0
    test_fraction: float = 0.2
    binarize_threshold: float | None = 0.5
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)


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
