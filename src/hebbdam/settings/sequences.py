"""The settings of ``hebbdam.experiments.sequences``, moved here from it so that composing imports no torch
(:mod:`hebbdam.settings`); the experiment's ``parse_settings`` builds their rules and separations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import references as ref
from ..config import ConfigError, Params
from ..schema import (
    NONNEG_INT,
    POSITIVE_INT,
    STRING,
    Check,
    Named,
    Section,
    choice,
    int_list,
    number,
    number_list,
    parse,
    setting,
)
from ..stage_spec import Stage
from .common import (
    data_root,
)

KINDS = ("linear", "polynomial", "exponential")


# how a model's couplings are built, and the memory-registry kind each builds (memory.sequence)
RULES = {"hebbian": "sequence", "pseudo_inverse": "sequence_pseudo_inverse"}


@dataclass(frozen=True, kw_only=True)
class Model:
    """A sequence network: transfer ``kind`` (f), its ``degree`` d (polynomial), and how couplings are built;
    ``dims``: the D grid (models of the main table only)."""

    name: str
    kind: str = setting(choice(*KINDS))
    degree: int = setting(POSITIVE_INT, 1, when=lambda v: v["kind"] == "polynomial")  # read for polynomials only
    rule: str = setting(choice(*RULES), "hebbian")
    dims: tuple[int, ...] = setting(int_list(3), then=tuple)

    @property
    def d(self) -> int:
        return 1 if self.kind == "linear" else self.degree

    @property
    def memory(self) -> str:
        """The memory-registry kind this model builds (:data:`RULES`)."""
        return RULES[self.rule]

    def scan_limit(self, dim: int, max_length: int) -> int:
        """The longest sequence scanned at D: ``max_length``; the pseudo-inverse, exact up to P = D (its O⁺ has rank
        at most D) and without a capacity law, to 2D at most."""
        return max_length if self.rule == "hebbian" else min(max_length, 2 * dim)

    @property
    def locality(self) -> str:
        return "local" if self.rule == "hebbian" else "nonlocal"

    def theory(self, dim: int, whole_sequence: bool) -> float | None:
        """P_T (or P_S) of Chaudhry et al. 2023 for the Hebbian rule; None for the pseudo-inverse baseline."""
        if self.rule != "hebbian":
            return None
        if self.kind == "exponential":
            return ref.sequence_exponential_capacity(dim, whole_sequence)
        return ref.sequence_polynomial_capacity(dim, self.d, whole_sequence)

    def law(self, dim: int, whole_sequence: bool) -> float:
        """:meth:`theory` of a Hebbian model (every model of the main table: :meth:`Settings.checked`)."""
        value = self.theory(dim, whole_sequence)
        if value is None:
            raise ValueError(f"{self.name}: no capacity law for the {self.rule} rule")
        return value


@dataclass(frozen=True, kw_only=True)
class BiasedModel(Model):
    """A model of the biased-pattern table, measured at the table's one D."""

    dims: tuple[int, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Biased:
    dim: int = setting(POSITIVE_INT)
    epsilons: list[float] = setting(number_list("a non-empty list of numbers in [0, 1)", lambda v: 0 <= v < 1))
    models: list[BiasedModel] = setting(Named(BiasedModel))


@dataclass(frozen=True, kw_only=True)
class Digits:
    dataset: str = setting(STRING)
    length: int = setting(POSITIVE_INT)
    trials: int = setting(POSITIVE_INT)
    models: list[str] = setting(
        Check(
            "a non-empty list of names from sequences.models",
            lambda v: isinstance(v, list) and bool(v) and all(isinstance(x, str) for x in v),
            list,
        )
    )


@dataclass(frozen=True, kw_only=True)
class Settings:
    seed: int = setting(NONNEG_INT)
    trials: int = setting(POSITIVE_INT)
    probes: int = setting(POSITIVE_INT)
    pass_fraction: float = setting(number("a number in (0, 1]", lambda v: 0 < v <= 1))
    resolution: float = setting(number("a number in [0, 1)", lambda v: 0 <= v < 1))
    max_length: int = setting(POSITIVE_INT)
    models: list[Model] = setting(Named(Model, "at least one model"))
    biased: Biased = setting(Section(Biased))
    digits: Digits = setting(Section(Digits))
    data_root: str
    device: Any = None  # the torch.device it runs on, given by the experiment's parse_settings

    def checked(self, section: Params) -> Settings:
        """The main table is Hebbian; the digit models name models of it."""
        if any(m.rule != "hebbian" for m in self.models):
            raise ConfigError(
                section.key("models"), "Hebbian models only (the pseudo-inverse goes under biased.models)"
            )
        known = [m.name for m in self.models]
        if any(name not in known for name in self.digits.models):
            raise ConfigError(
                section.key("digits.models"), "a non-empty list of names from sequences.models", self.digits.models
            )
        return self

    @property
    def digit_models(self) -> list[Model]:
        by_name = {m.name: m for m in self.models}
        return [by_name[name] for name in self.digits.models]


def parse_settings(params: Params, **given: Any) -> Settings:
    """The ``sequences`` section (and data.root) read into :class:`Settings`, checked whole before any work."""
    return parse(Settings, params.section("sequences"), data_root=data_root(params), **given)


# the DVC stage this experiment runs (hebbdam.stages collects every settings module's STAGES)
STAGES: tuple[Stage, ...] = (
    Stage(
        name="sequences",
        entry="hebbdam.experiments.sequences:main",
        help="E4: sequence capacity P_T, P_S of SeqNet and DenseNets",
        params=("sequences",),
        records=("sequences.json",),
        curves=("sequences_curves.json",),
        figures=("sequences",),
        position=40,
    ),
)
