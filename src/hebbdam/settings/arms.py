"""What the arms of the capacity ladder and of the budget experiment share: the schemas of their ``options`` and the
check of an arm's rule (its name, its ``hyper`` and the tensor it writes), so both stages accept and refuse the same
way. Each stage keeps its own defaults for options left out (a stage's sizes differ)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import MISSING, dataclass

from ..config import Params
from ..errors import ConfigError
from ..schema import MAPPING, POSITIVE, POSITIVE_INT, STRING, keys, setting
from .catalogue import KIND_ACCEPTS, RuleInfo, rule_info, rule_names, trains


@dataclass(frozen=True, kw_only=True)
class WrittenOptions:
    """A memory written by a registry rule through ``lit.store``: passes over the patterns and rows per batch."""

    epochs: int = setting(POSITIVE_INT)
    batch_size: int = setting(POSITIVE_INT)


@dataclass(frozen=True, kw_only=True)
class AdamOptions:
    """A memory trained by backprop: Adam updates, its step size and the patterns per batch."""

    updates: int = setting(POSITIVE_INT)
    lr: float = setting(POSITIVE)
    batch_size: int = setting(POSITIVE_INT)


@dataclass(frozen=True, kw_only=True)
class GradientOptions(AdamOptions):
    """A memory trained by backprop on the denoising loss through ``steps`` unrolled recall steps."""

    steps: int = setting(POSITIVE_INT)


@dataclass(frozen=True, kw_only=True)
class KernelOptions:
    """A random-feature memory: the kernel exp(-beta‖σ-ξ‖²/2D)."""

    beta: float = setting(POSITIVE)


@dataclass(frozen=True, kw_only=True)
class FeatureOptions(KernelOptions):
    """A random-feature memory of a fixed number of features (the budget stage derives it from its size)."""

    features: int = setting(POSITIVE_INT)


@dataclass(frozen=True)
class Options:
    """An arm's ``options``: the keys that the option schemas of its kind declare, each checked; any other key is
    refused naming what the kind accepts. The value is a dict of the keys given (each stage fills in its defaults).

    ``kind(values)``: from the arm's fields parsed before it, a label ("model 'backprop'") and the schemas."""

    kind: Callable[[dict], tuple[str, Sequence[type]]]

    def read(self, section: Params, name: str, default: object, values: dict) -> dict:
        if not section.has(name):
            return {}
        options = section.section(name)
        label, schemas = self.kind(values)
        accepted = keys(*schemas)
        for key, _ in options.items():
            if key not in accepted:
                raise ConfigError(options.key(key), f"an option of {label} ({', '.join(accepted)})", "unknown")
        return {key: accepted[key].reader.read(options, key, MISSING) for key, _ in options.items()}


def options_of(kind: Callable[[dict], tuple[str, Sequence[type]]]) -> dict:
    """The ``options`` field of an arm schema whose option schemas depend on the fields before it."""
    return setting(Options(kind), {})


@dataclass(frozen=True)
class RuleSpec:
    """A checked rule as the settings hold it: its registry name and hyper-parameters (all of them, defaults filled
    in). The experiment's ``parse_settings`` builds the :class:`hebbdam.rules.Rule` (``experiments.common.built``)."""

    name: str
    hyper: dict

    @property
    def locality(self) -> str:
        return rule_info(self.name).locality


def checked_rule(section: Params, name: str, hyper: dict, memory: str | None, known: str = "one of") -> RuleInfo:
    """The catalogue entry of rule ``name``, refused in one line naming ``rule`` or ``hyper`` when the name is not
    registered, ``hyper`` does not fit it (unknown keys, refused values: :meth:`RuleInfo.checked`), or it cannot train
    the registry kind ``memory`` (its target is not among the kind's ``accepts``; None: no kind to check)."""
    if name not in rule_names():
        raise ConfigError(section.key("rule"), f"{known} " + ", ".join(rule_names()), name)
    rule = rule_info(name)
    try:
        rule.checked(hyper)
    except (TypeError, ValueError) as err:
        raise ConfigError(section.key("hyper"), f"hyper-parameters rule '{name}' accepts ({err})", hyper) from err
    if memory is None or trains(rule, memory):
        return rule
    accepted = " or ".join(KIND_ACCEPTS[memory])
    reason = f"{rule.describe()} cannot train memory {memory}"
    raise ConfigError(section.key("rule"), f"a rule that writes {accepted} for memory '{memory}' ({reason})", name)


@dataclass(frozen=True)
class RuleOf:
    """An arm's ``rule`` read with its ``hyper`` into a :class:`RuleSpec`, whose rule must train the registry kind
    named by the arm's field ``memory_field`` (parsed before it)."""

    memory_field: str

    def read(self, section: Params, name: str, default: object, values: dict) -> RuleSpec:
        hyper = MAPPING.read(section, "hyper", {})
        rule = STRING.read(section, name, MISSING)
        checked_rule(section, rule, hyper, values[self.memory_field])
        return RuleSpec(rule, hyper)
