"""Settings schemas: a stage's ``Settings`` is a frozen dataclass whose fields declare the params key they read, its
check (type and bound) and its default; :func:`parse` is the one parser that turns a params section into it.

    @dataclass(frozen=True, kw_only=True)
    class Settings:
        trials: int = setting(POSITIVE_INT)
        loads: list[float] = setting(POSITIVE_LIST, then=sorted)
        arms: list[Arm] = setting(Named(Arm, "at least one arm"))

A refusal is one :class:`ConfigError` line naming the full dotted key ("params key 'capacity.trials': expected a
positive integer, got 'abc'"). Every key read is recorded by :class:`hebbdam.config.Params`, so the composition check
(:mod:`hebbdam.validation`) refuses a key no schema declares. This stays a small layer of our own rather than
pydantic because those two things are what the stages need and pydantic gives neither: its errors are several
lines in its own words, and it cannot tell the composition check which keys were read.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, Protocol, TypeVar, overload

from .config import Params
from .errors import ConfigError

T = TypeVar("T")
Final = TypeVar("Final", covariant=True)


class Checked(Protocol[Final]):
    """A schema with cross-field rules: ``checked(section)`` returns the final value :func:`parse` gives."""

    def checked(self, section: Params) -> Final: ...


SPEC = "hebbdam.schema"  # the dataclass field metadata key that holds a field's reader


def _identity(value: Any) -> Any:
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class Check:
    """A value's type and bound: ``accepts(value)``, the words of the refusal (``expected``) and ``convert``."""

    expected: str
    accepts: Callable[[Any], bool]
    convert: Callable[[Any], Any] = _identity

    def read(self, section: Params, name: str, default: Any, values: dict | None = None) -> Any:
        value = section.raw(name) if default is MISSING else section.raw(name, default)
        if not self.accepts(value):
            raise ConfigError(section.key(name), self.expected, value)
        return self.convert(value)


def integer(expected: str, bound: Callable[[int], bool]) -> Check:
    return Check(expected, lambda v: _is_int(v) and bound(v))


def number(expected: str, bound: Callable[[float], bool]) -> Check:
    """A real number (an int is accepted and returned as float) within ``bound``."""
    return Check(expected, lambda v: _is_number(v) and bound(float(v)), float)


def choice(*options: Any) -> Check:
    return Check("one of " + ", ".join(map(str, options)), lambda v: v in options)


def int_list(minimum: int = 1, expected: str | None = None) -> Check:
    return Check(
        expected or f"a non-empty list of integers ≥ {minimum}",
        lambda v: isinstance(v, list) and bool(v) and all(_is_int(x) and x >= minimum for x in v),
        list,
    )


def number_list(expected: str, bound: Callable[[float], bool]) -> Check:
    return Check(
        expected,
        lambda v: isinstance(v, list) and bool(v) and all(_is_number(x) and bound(float(x)) for x in v),
        lambda v: [float(x) for x in v],
    )


def subset(expected: str, options: Collection[Any], distinct: bool = False) -> Check:
    """A non-empty list whose every entry is one of ``options`` (each at most once when ``distinct``)."""
    return Check(
        expected,
        lambda v: (
            isinstance(v, list) and bool(v) and all(x in options for x in v) and (not distinct or len(set(v)) == len(v))
        ),
        list,
    )


def optional(check: Check, expected: str | None = None) -> Check:
    """``check`` or null (kept as None)."""
    return Check(
        expected or f"null or {check.expected}",
        lambda v: v is None or check.accepts(v),
        lambda v: None if v is None else check.convert(v),
    )


POSITIVE_INT = integer("a positive integer", lambda v: v > 0)
NONNEG_INT = integer("a non-negative integer", lambda v: v >= 0)
POWER = integer("an integer power ≥ 2", lambda v: v >= 2)
FRACTION = number("a number in [0, 1]", lambda v: 0.0 <= v <= 1.0)
POSITIVE = number("a number in (0, ∞)", lambda v: 0 < v < math.inf)
POSITIVE_LIST = number_list("a non-empty list of numbers in (0, ∞)", lambda v: 0 < v < math.inf)
STRING = Check("a non-empty string", lambda v: isinstance(v, str) and bool(v))
BOOLEAN = Check("true or false", lambda v: isinstance(v, bool))
MAPPING = Check("a mapping", lambda v: v is None or isinstance(v, dict), lambda v: dict(v or {}))  # null: empty


@dataclass(frozen=True)
class Section:
    """A field holding a sub-section parsed into its own schema."""

    schema: type

    def read(self, section: Params, name: str, default: Any, values: dict) -> Any:
        if default is not MISSING and not section.has(name):
            return default
        return parse(self.schema, section.section(name))


@dataclass(frozen=True)
class Inline:
    """A field holding a schema whose keys sit in the section itself (a training block shared by sections)."""

    schema: type

    def read(self, section: Params, name: str, default: Any, values: dict) -> Any:
        return parse(self.schema, section)


@dataclass(frozen=True)
class Named:
    """A field holding a mapping of named sub-sections (arms, models), each parsed into ``schema`` with its
    ``name``; a list in the order of the mapping. ``at_least_one``: the refusal of an empty mapping."""

    schema: type
    at_least_one: str | None = None

    def read(self, section: Params, name: str, default: Any, values: dict) -> list:
        entries = section.section(name)
        items: list = [parse(self.schema, entries.section(key), name=str(key)) for key, _ in entries.items()]
        if not items and self.at_least_one:
            raise ConfigError(section.key(name), self.at_least_one)
        return items


@dataclass(frozen=True)
class Keyed:
    """A field holding a mapping from names among ``names`` to values that pass ``check`` (a β per similarity);
    another name is refused with ``expected``."""

    check: Check
    names: Collection[str]
    expected: str

    def read(self, section: Params, name: str, default: Any, values: dict) -> dict:
        entries = section.section(name)
        for key, _ in entries.items():
            if key not in self.names:
                raise ConfigError(entries.key(key), self.expected, "unknown")
        return {key: self.check.read(entries, key, MISSING) for key, _ in entries.items()}


@dataclass(frozen=True)
class Mapped:
    """A field holding a mapping from any names (checked elsewhere) to values that pass ``check``, each value
    refused naming its own key."""

    check: Check

    def read(self, section: Params, name: str, default: Any, values: dict) -> dict:
        if section.raw(name, None) in (None, {}):
            return {}
        entries = section.section(name)
        return {key: self.check.read(entries, key, MISSING) for key, _ in entries.items()}


@dataclass(frozen=True)
class Spec:
    """How :func:`parse` fills one field: its reader (``read(section, name, default, values)``), its default,
    when it is read (``when(values)`` over the fields parsed before it; otherwise the key is not read and a value in
    params.yaml is refused as unknown), and what is applied to the checked value (``then``)."""

    reader: Any
    default: Any = MISSING
    when: Callable[[dict], bool] | None = None
    then: Callable[[Any], Any] = _identity


def setting(
    reader: Check | Section | Named | Any,
    default: Any = MISSING,
    *,
    when: Callable[[dict], bool] | None = None,
    then: Callable[[Any], Any] = _identity,
) -> Any:
    """A schema field read from the params key of its own name (see :class:`Spec`)."""
    spec = Spec(reader, default, when, then)
    if isinstance(default, list | dict):
        return field(default_factory=lambda: type(default)(default), metadata={SPEC: spec})
    if default is MISSING and when is not None:  # required when read; None when not
        return field(default=None, metadata={SPEC: spec})
    return field(default=default, metadata={SPEC: spec})


@overload
def parse(schema: type[Checked[Final]], section: Params, **given: Any) -> Final: ...


@overload
def parse(schema: type[T], section: Params, **given: Any) -> T: ...


def parse(schema: type, section: Params, **given: Any) -> Any:
    """``section`` read into ``schema``, field by field in declaration order; ``given`` fills fields that do not
    come from the section (an arm's name, the trainer options). Then the schema's own ``checked(section)``, if it
    has one, applies the rules that span several fields and returns the final value."""
    values = dict(given)
    for spec_field in fields(schema):
        spec: Spec | None = spec_field.metadata.get(SPEC)
        if spec is None or spec_field.name in given or (spec.when is not None and not spec.when(values)):
            continue
        values[spec_field.name] = spec.then(spec.reader.read(section, spec_field.name, spec.default, values))
    built = schema(**values)
    finish = getattr(built, "checked", None)
    return finish(section) if finish is not None else built


def keys(*schemas: type) -> dict[str, Spec]:
    """The params keys ``schemas`` declare, in declaration order, with their specs."""
    return {f.name: f.metadata[SPEC] for schema in schemas for f in fields(schema) if SPEC in f.metadata}
