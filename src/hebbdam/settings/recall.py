"""The settings of ``hebbdam.experiments.recall``, moved here from it so that composing imports no torch
(:mod:`hebbdam.settings`); the experiment's ``parse_settings`` builds their rules and separations."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import ConfigError, Params
from ..schema import (
    BOOLEAN,
    FRACTION,
    NONNEG_INT,
    POSITIVE,
    POSITIVE_INT,
    Check,
    Inline,
    Mapped,
    Named,
    Section,
    choice,
    int_list,
    integer,
    optional,
    parse,
    setting,
    subset,
)
from ..stage_spec import Plot, Stage
from .catalogue import FEATURE_MAPS
from .common import (
    trainer_options,
)

RULES = ("softmax", "sum", "delta")


SETTINGS = ("setting1", "setting2")


MEMORY_LRS = Mapped(POSITIVE)  # memory name → a learning rate of its own (names checked in Settings.checked)


@dataclass(frozen=True, kw_only=True)
class Training:
    """How one trained arm fits (``lit.transformer.fit``): Adam at ``lr`` on batches of ``batch_size``, validated on
    ``val_batches`` batches every ``eval_every`` steps, until ``max_steps``, val_loss < ``stop_loss``,
    ``patience`` validations without improvement, or validation losses flat within a relative ``flat_tolerance``
    over ``patience`` validations (0: off). ``lrs`` gives a memory its own lr (from a sweep; recorded per point)."""

    batch_size: int = setting(POSITIVE_INT)
    lr: float = setting(POSITIVE)
    eval_every: int = setting(POSITIVE_INT)
    val_batches: int = setting(POSITIVE_INT)
    max_steps: int = setting(POSITIVE_INT)
    stop_loss: float | None = setting(optional(POSITIVE), None)
    patience: int = setting(POSITIVE_INT)
    flat_tolerance: float = setting(FRACTION, 0.0)
    lrs: dict[str, float] = setting(MEMORY_LRS, {})  # memory → its own Adam lr (others: ``lr``)

    def lr_of(self, name: str) -> float:
        """Memory ``name``'s learning rate: its entry of ``lrs``, else ``lr``."""
        return self.lrs.get(name, self.lr)

    @property
    def epochs(self) -> int:
        """Validations (Lightning epochs of ``eval_every`` steps) that cover ``max_steps``."""
        return -(-self.max_steps // self.eval_every)


@dataclass(frozen=True, kw_only=True)
class MemorySpec:
    """One memory of the ``memories`` table: its rule, its key feature map and that map's size."""

    name: str
    rule: str = setting(choice(*RULES))
    feature: str = setting(choice(*FEATURE_MAPS), "identity")
    order: int = setting(POSITIVE_INT, 1, when=lambda v: v["feature"] == "dpfp")  # read for dpfp only
    features: int = setting(POSITIVE_INT, 64, when=lambda v: v["feature"] == "favor")  # read for favor only
    # sum rule: divide by φ(q)·Σφ(k) (linear attention)? null: yes for a non-negative φ, no for identity
    normalise: bool | None = setting(optional(BOOLEAN), None, when=lambda v: v["rule"] == "sum")

    def as_spec(self) -> dict:
        """The dict ``lit.transformer`` builds a memory from ({rule, feature, normalise, order, features})."""
        out: dict[str, object] = {"rule": self.rule, "feature": self.feature}
        if self.rule == "sum" and (self.normalise is False or (self.normalise is None and self.feature == "identity")):
            out["normalise"] = False  # the plain Hebbian outer product: φ(k) may be negative, no normaliser
        if self.feature == "dpfp":
            out["order"] = self.order
        if self.feature == "favor":
            out["features"] = self.features
        return out


NAMES = Check(  # names of the ``memories`` table (checked against it in Settings.checked), duplicates dropped
    "a non-empty list of names from recall.memories",
    lambda v: isinstance(v, list) and bool(v) and all(isinstance(x, str) for x in v),
    lambda v: list(dict.fromkeys(v)),
)


PAIRS = int_list(2)


MQAR_SIZES = Check(  # [[length, pairs], …] with an even length ≥ 4·pairs (room for the pairs and one query each)
    "a list of [length, pairs] with an even length ≥ 4·pairs",
    lambda v: (
        isinstance(v, list)
        and bool(v)
        and all(isinstance(s, list) and len(s) == 2 and all(isinstance(x, int) and x > 0 for x in s) for s in v)
        and all(length % 2 == 0 and 4 * pairs <= length for length, pairs in v)
    ),
    lambda v: [(length, pairs) for length, pairs in v],
)


EXTEND = Check(  # N past the grid, possibly none
    "a list (possibly empty) of integers ≥ 2",
    lambda v: isinstance(v, list) and all(isinstance(x, int) and not isinstance(x, bool) and x >= 2 for x in v),
    lambda v: sorted(set(v)),
)


@dataclass(frozen=True, kw_only=True)
class Grid:
    """One Schlag setting: the memories, the grid of N (pairs) every memory runs, and ``extend``: N past the grid,
    each run only by the memories solved at every N before it (whose N* would otherwise be censored at the top)."""

    memories: list[str] = setting(NAMES)
    pairs: list[int] = setting(PAIRS, then=lambda v: sorted(set(v)))
    extend: list[int] = setting(EXTEND, [])

    def checked(self, section: Params) -> Grid:
        if self.extend and self.extend[0] <= self.pairs[-1]:
            raise ConfigError(section.key("extend"), f"N larger than the grid's last N = {self.pairs[-1]}", self.extend)
        return self


@dataclass(frozen=True, kw_only=True)
class Schlag:
    d_key: int = setting(POSITIVE_INT)
    embed: int | None = setting(optional(POSITIVE_INT), None)
    training: Training = setting(Inline(Training))
    setting1: Grid = setting(Section(Grid))
    setting2: Grid = setting(Section(Grid))

    @property
    def grids(self) -> dict[str, tuple[list[str], list[int]]]:
        """setting → (memories, N grid)."""
        return {
            name: (grid.memories, grid.pairs)
            for name, grid in zip(SETTINGS, (self.setting1, self.setting2), strict=True)
        }


VALUE_SPACES = ("sign", "onehot")


@dataclass(frozen=True, kw_only=True)
class Free:
    """The training-free arm: values from a space that does not grow with N (``values``: ``sign``, random ±1
    vectors of d_key dimensions; ``onehot``, one-hot over a fixed vocabulary of ``vocab`` classes), random unit keys,
    at least ``queries`` queries per N (``sequences`` sequences or more), capacity at accuracy ≥ ``level``."""

    d_key: int = setting(POSITIVE_INT)
    sequences: int = setting(POSITIVE_INT)
    queries: int = setting(POSITIVE_INT)
    softmax_beta: float = setting(POSITIVE)
    values: list[str] = setting(subset("a non-empty list of sign, onehot", VALUE_SPACES, distinct=True))
    vocab: int = setting(integer("an integer ≥ 2", lambda v: v >= 2))
    level: float = setting(FRACTION)
    memories: list[str] = setting(NAMES)
    pairs: list[int] = setting(PAIRS, then=lambda v: sorted(set(v)))


@dataclass(frozen=True, kw_only=True)
class Mqar:
    vocab: int = setting(POSITIVE_INT)
    sizes: list[tuple[int, int]] = setting(MQAR_SIZES)  # (sequence length, pairs), Zoology's Figure 2 grid
    d_models: list[int] = setting(int_list(1))
    power_a: float = setting(POSITIVE)
    d_key: int = setting(POSITIVE_INT)
    layers: int = setting(POSITIVE_INT)
    conv: int = setting(POSITIVE_INT)
    training: Training = setting(Inline(Training))
    memories: list[str] = setting(NAMES)

    def checked(self, section: Params) -> Mqar:
        if any(length >= self.vocab for length, _ in self.sizes):
            raise ConfigError(
                section.key("vocab"), "a vocabulary larger than every sequence length (Zoology)", self.vocab
            )
        return self


@dataclass(frozen=True, kw_only=True)
class Settings:
    seed: int = setting(NONNEG_INT)
    memories: dict[str, dict] = setting(Named(MemorySpec), then=lambda specs: {m.name: m.as_spec() for m in specs})
    solved_loss: float = setting(POSITIVE)
    schlag: Schlag = setting(Section(Schlag))
    free: Free = setting(Section(Free))
    mqar: Mqar = setting(Section(Mqar))
    trainer: dict

    def checked(self, section: Params) -> Settings:
        """Every memory list names memories of the ``memories`` table."""
        lists = {
            "schlag.setting1.memories": self.schlag.setting1.memories,
            "schlag.setting2.memories": self.schlag.setting2.memories,
            "free.memories": self.free.memories,
            "mqar.memories": self.mqar.memories,
            "schlag.lrs": list(self.schlag.training.lrs),
            "mqar.lrs": list(self.mqar.training.lrs),
        }
        for key, names in lists.items():
            if any(name not in self.memories for name in names):
                raise ConfigError(section.key(key), f"{NAMES.expected}: " + ", ".join(self.memories), names)
        return self


def parse_settings(params: Params) -> Settings:
    """The ``recall`` section read into :class:`Settings`, checked whole before any training starts."""
    return parse(Settings, params.section("recall"), trainer=trainer_options(params))


# the DVC stage this experiment runs (hebbdam.stages collects every settings module's STAGES)
STAGES: tuple[Stage, ...] = (
    Stage(
        name="recall",
        entry="hebbdam.experiments.recall:main",
        help="E9: in-context associative recall, memories as token mixers (Schlag settings, MQAR)",
        params=("recall",),
        records=("recall.json",),
        curves=("recall_curves.json",),
        figures=("recall",),
        plots=(
            Plot(
                "recall",
                "E9 recall: final loss ½‖ŷ - v‖² against the number of keys N",
                "recall_curves.json",
                x="N",
                y="loss",
                series="series",
            ),
        ),
        position=130,
    ),
)
