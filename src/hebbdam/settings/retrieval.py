"""The settings of ``hebbdam.experiments.retrieval``, moved here from it so that composing imports no torch
(:mod:`hebbdam.settings`); the experiment's ``parse_settings`` builds their rules and separations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..config import ConfigError, Params
from ..schema import (
    NONNEG_INT,
    POSITIVE,
    POSITIVE_INT,
    POWER,
    STRING,
    Check,
    Keyed,
    Named,
    Section,
    choice,
    int_list,
    number,
    number_list,
    parse,
    setting,
    subset,
)
from ..stage_spec import DATA_PARAMS, Plot, Stage
from .arms import (
    checked_rule,
)
from .catalogue import UHN_SEPARATIONS, UHN_SIMILARITIES
from .common import (
    binarize_threshold,
    data_root,
)

CORRUPTIONS = ("bottom_half", "pixel_mask", "gaussian", "border")


# the registry kinds retrieval's arms build on sign-coded (±1) images; not MemoryKind.binary: hopfield and dense relax
# asynchronously, softmax reads one step (tests/memory/test_registry)
SIGN_IMAGE_KINDS = ("hopfield", "dense", "softmax")


@dataclass(frozen=True, kw_only=True)
class Corruption:
    name: str
    kind: str = setting(choice(*CORRUPTIONS))
    level: float = setting(number("a number ≥ 0", lambda v: v >= 0), 0.0)

    def checked(self, section: Params) -> Corruption:
        if self.kind == "pixel_mask" and self.level > 1:
            raise ConfigError(section.key("level"), "a fraction in [0, 1] for pixel_mask", self.level)
        return self


@dataclass(frozen=True, kw_only=True)
class BinaryArm:
    """A memory on ±1 images: a Hopfield network written by ``rule``, a polynomial DAM xⁿ, or a softmax memory."""

    name: str
    model: str = setting(choice(*SIGN_IMAGE_KINDS))
    rule: str | None = setting(STRING, when=lambda v: v["model"] == "hopfield")
    n: int | None = setting(POWER, when=lambda v: v["model"] == "dense")
    beta: float | None = setting(POSITIVE, when=lambda v: v["model"] not in ("hopfield", "dense"))

    def checked(self, section: Params) -> BinaryArm:
        if self.rule is not None:
            checked_rule(section, self.rule, {}, "hopfield", known="a registered rule:")
        return self


@dataclass(frozen=True, kw_only=True)
class Examples:
    stored: int = setting(POSITIVE_INT)  # images stored for the example figure
    count: int = setting(POSITIVE_INT)  # example queries (rows of the figure)
    corruption: str = setting(STRING)  # the name of one of the section's corruptions
    dam_n: int = setting(POWER)
    softmax_beta: float = setting(POSITIVE)

    def checked(self, section: Params) -> Examples:
        if self.count > self.stored:
            raise ConfigError(section.key("count"), f"at most examples.stored = {self.stored}", self.count)
        return self


def _distinct_names(options: tuple[str, ...]) -> Check:
    return subset("a non-empty list of distinct names among " + ", ".join(options), options, distinct=True)


SIZES_OR_NONE = Check(
    "a list of integers ≥ 1 (empty: no binary arms)", lambda v: v == [] or int_list(1).accepts(v), list
)


FACTORS = number_list("a list of numbers > 0 that contains 1", lambda v: v > 0)


@dataclass(frozen=True, kw_only=True)
class Settings:
    seed: int = setting(NONNEG_INT)
    dataset: str = setting(STRING)
    data_root: str
    binarize_threshold: float
    sizes: list[int] = setting(int_list(1), then=lambda v: sorted(set(v)))
    binary_sizes: list[int] = setting(SIZES_OR_NONE, then=lambda v: sorted(set(v)))
    runs: int = setting(POSITIVE_INT)
    threshold_factors: list[float] = setting(
        Check(FACTORS.expected, lambda v: FACTORS.accepts(v) and 1 in v, FACTORS.convert), then=lambda v: sorted(set(v))
    )
    corruptions: list[Corruption] = setting(Named(Corruption, "at least one corruption"))
    similarities: list[str] = setting(_distinct_names(UHN_SIMILARITIES))
    separations: list[str] = setting(_distinct_names(UHN_SEPARATIONS))
    power: int = setting(POSITIVE_INT)
    softmax_beta: dict[str, float] = setting(  # a β for a similarity not run now is kept, but must name a similarity
        Keyed(POSITIVE, UHN_SIMILARITIES, "a β per similarity (" + ", ".join(UHN_SIMILARITIES) + ")")
    )
    binary_arms: list[BinaryArm] = setting(Named(BinaryArm))
    max_sweeps: int = setting(POSITIVE_INT)
    examples: Examples = setting(Section(Examples))
    device: Any = None  # the torch.device it runs on, given by the experiment's parse_settings

    def checked(self, section: Params) -> Settings:
        """Binary sizes among the sizes; the example corruption among the corruptions; a β for each similarity."""
        if any(n not in self.sizes for n in self.binary_sizes):
            raise ConfigError(
                section.key("binary_sizes"), f"a subset of retrieval.sizes {self.sizes}", self.binary_sizes
            )
        names = [c.name for c in self.corruptions]
        if self.examples.corruption not in names:
            raise ConfigError(
                section.key("examples.corruption"), "one of " + ", ".join(names), self.examples.corruption
            )
        for sim in self.similarities:
            if sim not in self.softmax_beta:
                raise ConfigError(section.key(f"softmax_beta.{sim}"), "a value (the key is missing from params.yaml)")
        return self

    @property
    def beta(self) -> dict[str, float]:
        """The softmax β of each similarity run."""
        return {sim: self.softmax_beta[sim] for sim in self.similarities}


def parse_settings(params: Params, **given: Any) -> Settings:
    """The ``retrieval`` section (and the data keys it reads) read into :class:`Settings` before any work."""
    return parse(
        Settings,
        params.section("retrieval"),
        data_root=data_root(params),
        binarize_threshold=binarize_threshold(params),
        **given,
    )


# the DVC stage this experiment runs (hebbdam.stages collects every settings module's STAGES)
STAGES: tuple[Stage, ...] = (
    Stage(
        name="retrieval",
        entry="hebbdam.experiments.retrieval:main",
        help="E3: image retrieval, UHN grid vs Hebbian and DAM arms",
        params=("retrieval", "engine", *DATA_PARAMS),
        records=("retrieval.json",),
        curves=("retrieval_curves.json", "retrieval_examples.json"),
        figures=("retrieval", "retrieval_examples"),
        plots=(
            Plot(
                "retrieval",
                "Image retrieval: fraction retrieved against the number stored",
                "retrieval_curves.json",
                x="N",
                y="retrieved",
                facet=("arm",),
            ),
        ),
        reads_data=True,
        position=50,
    ),
)
