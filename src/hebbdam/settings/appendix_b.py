"""The settings of ``hebbdam.experiments.appendix_b``, moved here from it so that composing imports no torch
(:mod:`hebbdam.settings`); the experiment's ``parse_settings`` builds their rules and separations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..config import Params
from ..schema import (
    BOOLEAN,
    NONNEG_INT,
    POSITIVE_INT,
    POSITIVE_LIST,
    POWER,
    Section,
    int_list,
    integer,
    parse,
    setting,
    subset,
)
from ..stage_spec import Stage

VARIANTS = ("power", "rectified")


AT_LEAST_TWO = integer("an integer ≥ 2", lambda v: v >= 2)


@dataclass(frozen=True, kw_only=True)
class HalfSettings:
    """K½(D): power ``n`` (``rectified`` or not), dimensions ``dims``, K = round(ratio · D^(n-1)) per ratio;
    ``trials`` independent memory sets per (D, K), ``starts`` random starts each."""

    n: int = setting(POWER)
    rectified: bool = setting(BOOLEAN)
    dims: list[int] = setting(int_list(2))
    ratios: list[float] = setting(POSITIVE_LIST, then=sorted)
    trials: int = setting(POSITIVE_INT)
    starts: int = setting(POSITIVE_INT)


@dataclass(frozen=True, kw_only=True)
class Settings:
    seed: int = setting(NONNEG_INT)
    dim: int = setting(AT_LEAST_TWO)
    memories: int = setting(POSITIVE_INT)
    starts: int = setting(POSITIVE_INT)
    powers: list[int] = setting(int_list(2))
    variants: list[str] = setting(subset("a non-empty list of " + ", ".join(VARIANTS), VARIANTS))
    max_sweeps: int = setting(POSITIVE_INT)
    half: HalfSettings = setting(Section(HalfSettings))
    device: Any = None  # the torch.device it runs on, given by the experiment's parse_settings


def parse_settings(params: Params, **given: Any) -> Settings:
    """The ``appendix_b`` section read into :class:`Settings`, checked whole before any computation starts."""
    return parse(Settings, params.section("appendix_b"), **given)


# the DVC stage this experiment runs (hebbdam.stages collects every settings module's STAGES)
STAGES: tuple[Stage, ...] = (
    Stage(
        name="appendix_b",
        entry="hebbdam.experiments.appendix_b:main",
        help="E2: Krotov & Hopfield 2016 Appendix B, random starts",
        params=("appendix_b",),
        records=("appendix_b.json",),
        curves=("appendix_b_curves.json",),
        figures=("appendix_b",),
        position=30,
    ),
)
