"""Reading ``params.yaml`` (the composed Hydra config) with checked, named keys.

Stages never use ``@hydra.main``: DVC composes ``conf/`` into ``params.yaml`` (``dvc exp run -S …``) and every stage
reads that one file, so the parameters DVC tracks are exactly the ones the code sees.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml

from .errors import ConfigError, HebbdamError

Option = TypeVar("Option")  # the type of the options of Params.choice (names, or False/True/"warn")

REPO_ROOT = Path(__file__).resolve().parents[2]
_MISSING = object()


class Params:
    """A read-only view of a nested params mapping that names the full key in every error.

    Every key a parser reads is recorded in ``seen`` (shared by the sections of one file), so
    :func:`hebbdam.validation.check` can refuse keys that no parser reads: a typo is never silently ignored.
    """

    def __init__(self, data: dict, prefix: str = "", seen: set[str] | None = None):
        self._data = data
        self._prefix = prefix
        self.seen: set[str] = set() if seen is None else seen

    def key(self, name: str) -> str:
        return f"{self._prefix}{name}"

    def _lookup(self, name: str, default: Any) -> Any:
        node: Any = self._data
        for part in name.split("."):
            if not isinstance(node, dict) or part not in node:
                if default is _MISSING:
                    raise ConfigError(self.key(name), "a value (the key is missing from params.yaml)")
                return default
            node = node[part]
        return node

    def raw(self, name: str, default: Any = _MISSING) -> Any:
        """The value at ``name`` (dotted), read as a whole: the key and everything under it count as read."""
        self.seen.add(self.key(name))
        return self._lookup(name, default)

    def section(self, name: str) -> Params:
        value = self._lookup(name, _MISSING)
        if not isinstance(value, dict):
            raise ConfigError(self.key(name), "a mapping", value)
        self.seen.add(self.key(name) + ".")  # the section itself is known; its keys count only when read
        return Params(value, self.key(name) + ".", self.seen)

    def has(self, name: str) -> bool:
        return self._lookup(name, None) is not None

    def items(self):
        return self._data.items()

    def to_dict(self) -> dict:
        return self._data

    # typed getters --------------------------------------------------------------------------------------------------
    def positive_int(self, name: str, default: Any = _MISSING) -> int:
        value = self.raw(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ConfigError(self.key(name), "a positive integer", value)
        return value

    def nonneg_int(self, name: str, default: Any = _MISSING) -> int:
        value = self.raw(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(self.key(name), "a non-negative integer", value)
        return value

    def number(self, name: str, check: Callable[[float], bool], expected: str, default: Any = _MISSING) -> float:
        value = self.raw(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not check(float(value)):
            raise ConfigError(self.key(name), expected, value)
        return float(value)

    def fraction(self, name: str, default: Any = _MISSING) -> float:
        return self.number(name, lambda v: 0.0 <= v <= 1.0, "a number in [0, 1]", default)

    def choice(self, name: str, options: Sequence[Option], default: Any = _MISSING) -> Option:
        value = self.raw(name, default)
        if value not in options:
            raise ConfigError(self.key(name), "one of " + ", ".join(map(str, options)), value)
        return value

    def string(self, name: str, default: Any = _MISSING) -> str:
        value = self.raw(name, default)
        if not isinstance(value, str) or not value:
            raise ConfigError(self.key(name), "a non-empty string", value)
        return value

    def int_list(self, name: str, minimum: int = 1) -> list[int]:
        value = self.raw(name)
        if (
            not isinstance(value, list)
            or not value
            or any(isinstance(v, bool) or not isinstance(v, int) or v < minimum for v in value)
        ):
            raise ConfigError(self.key(name), f"a non-empty list of integers ≥ {minimum}", value)
        return list(value)

    def positive_list(self, name: str) -> list[float]:
        value = self.raw(name)
        if (
            not isinstance(value, list)
            or not value
            or any(isinstance(v, bool) or not isinstance(v, int | float) or not 0 < v < float("inf") for v in value)
        ):
            raise ConfigError(self.key(name), "a non-empty list of numbers in (0, ∞)", value)
        return [float(v) for v in value]


def load_params(path: str | Path = "params.yaml") -> Params:
    """params.yaml as a :class:`Params`; not checked here (the base layer imports nothing above it): the CLI checks
    the whole file (:func:`hebbdam.validation.check_file`) before a stage command runs, and each stage's own parser
    checks the sections it reads."""
    path = Path(path)
    if not path.is_file():
        raise HebbdamError(f"{path}: params file not found (run `make params` to compose it from conf/)")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or type(err).__name__
        raise HebbdamError(f"{path}: not valid YAML{where} ({problem}); recompose it with `make params`") from err
    except UnicodeDecodeError as err:
        raise HebbdamError(f"{path}: not UTF-8 text (byte {err.start}); is it a params file?") from err
    if not isinstance(data, dict):
        raise HebbdamError(f"{path}: expected a mapping at the top level")
    return Params(data)
