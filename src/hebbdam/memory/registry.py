"""The memory registry, as ``rules/base.py`` keeps one for rules: each memory kind under a name, with the stored
tensors (rule targets) it is built from, its factory and its parameter count.

A rule names the tensor it writes (its ``target``); a kind names the targets it ``accepts``. Compatibility is those two
declarations, nothing else: :func:`hebbdam.rules.check_target` refuses a rule whose target the kind does not accept.
Experiments build a memory from a written tensor with ``get_kind(name).build(stored, dim, hyper, separation)``.
Each memory module registers its own kind(s) (``register_kind`` at its bottom); importing ``hebbdam.memory`` registers
them all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor

from ..settings.catalogue import TARGETS  # noqa: F401  (re-exported: memory.TARGETS)
from .base import BinaryMemory, Memory
from .separation import Separation

# targets that are not an associative memory: the classifiers read them (lit.backprop.Readout, experiments/*)
NOT_MEMORIES: dict[str, str] = {"readout": "a classifier's top layer (lit.backprop.Readout), not an associative memory"}


@dataclass(frozen=True)
class MemoryKind:
    """One memory kind.

    ``accepts``: the rule targets whose stored tensor builds it. ``build(stored, dim, options, separation)``: the
    memory from a written tensor (``options``: what else it is made of, e.g. the writing rule's seed of a random
    draw, or a slot memory's β; ``separation``: F of a DAM). ``parameters(dim, size)``: its parameter count M at
    dimension D and size knob ``size`` (slots or hidden units P, frequencies Y, quadruplets M; unused for pairwise
    weights). ``classes``: the memory classes that are this kind (to name the kind of a memory object).
    ``primary``: the kind a written target is read as by default (one per target); the other readings of a memory
    matrix (softmax, MINERVA, …) are built by name.
    """

    name: str
    accepts: tuple[str, ...]
    build: Callable[[Tensor, int, dict, Separation | None], Memory]
    parameters: Callable[[int, int], int]
    classes: tuple[type, ...]
    description: str
    primary: bool = True

    @property
    def pairwise(self) -> bool:
        """Built from pairwise weights W (D, D): D² numbers and D² per state per sweep whatever it stores (a slot,
        hidden-unit or feature memory grows with what it stores instead)."""
        return "pairwise" in self.accepts

    @property
    def binary(self) -> bool:
        """Its states are ±1 and it relaxes one neuron at a time (``dynamics.relax`` async needs a
        :class:`~hebbdam.memory.base.BinaryMemory`); a continuous memory (softmax, universal) is read in steps."""
        return all(issubclass(cls, BinaryMemory) for cls in self.classes)

    @property
    def features(self) -> bool:
        """Built from a random-feature tensor T (2Y,) (DrDAM): an additive write T = Σ_μ φ(ξ_μ) through fixed random
        frequencies Ω, no weights or slots to train (a backprop arm trains T alone, from that write)."""
        return "features" in self.accepts

    @property
    def modular(self) -> bool:
        """Its units come in hypercolumns of mutually exclusive units (BCPNN): it stores a modular code (one active
        unit per hypercolumn) and a read ends with each hypercolumn's winner (its classes' ``winners``)."""
        return all(callable(getattr(cls, "winners", None)) for cls in self.classes)

    def __post_init__(self):
        unknown = [t for t in self.accepts if t not in TARGETS]
        if not self.accepts or unknown:
            raise ValueError(f"memory kind {self.name}: accepts expected among {', '.join(TARGETS)}, got {unknown}")


_KINDS: dict[str, MemoryKind] = {}


def register_kind(kind: MemoryKind) -> MemoryKind:
    if kind.name in _KINDS:
        raise ValueError(f"memory kind {kind.name}: registered twice")
    _KINDS[kind.name] = kind
    return kind


def kind_names() -> list[str]:
    return sorted(_KINDS)


def get_kind(name: str) -> MemoryKind:
    """The kind called ``name``; a KeyError listing the registered kinds otherwise."""
    if name not in _KINDS:
        raise KeyError(f"memory: expected one of {', '.join(kind_names())}, got {name!r}")
    return _KINDS[name]


def kinds_accepting(target: str) -> list[str]:
    """The names of the kinds built from a ``target`` tensor (registration order)."""
    return [kind.name for kind in _KINDS.values() if target in kind.accepts]


def default_kind(target: str) -> str:
    """The primary kind built from a ``target`` tensor; a ValueError when no kind (or more than one) is primary."""
    primary = [name for name in kinds_accepting(target) if _KINDS[name].primary]
    if len(primary) != 1:
        reason = NOT_MEMORIES.get(target, f"primary kinds {primary}")
        raise ValueError(f"target {target}: no single memory kind is built from it ({reason})")
    return primary[0]


def kind_of(memory: object) -> MemoryKind | None:
    """The kind a memory object is (its exact class among a kind's ``classes``; the first registered wins)."""
    return next((kind for kind in _KINDS.values() if type(memory) in kind.classes), None)


def build(kind: str, stored: Tensor, dim: int, options: dict | None = None, separation: Separation | None = None):
    """The memory of kind ``kind`` from a written tensor: ``get_kind(kind).build(stored, dim, options, separation)``."""
    return get_kind(kind).build(stored, dim, dict(options or {}), separation)


def slot_kind(name: str, cls: type, description: str) -> MemoryKind:
    """A kind built from a memory matrix Ξ (P, D) alone: ``cls(Ξ, **options)``, P·D parameters."""

    def build_slots(stored: Tensor, dim: int, options: dict, separation: Separation | None) -> Memory:
        return cls(stored, **options)

    return MemoryKind(name, ("slots",), build_slots, lambda dim, size: size * dim, (cls,), description, False)
