"""A learning rule: a pure function from a batch of activity to an update of a memory's stored tensor.

Every rule names its ``locality`` ("local": ΔW_ij uses only what is at neurons i and j; "nonlocal": anything else)
and its ``target``, the kind of stored tensor it writes (``memory.registry.TARGETS``), so a figure can never silently
mix local and non-local results and a rule is never applied to a memory it cannot train (each memory kind declares
the targets it accepts):

- ``pairwise``: weights W (D, D) of a Hopfield network;
- ``slots``: a DAM's memory matrix Ξ (P, D), one row appended per stored pattern;
- ``hidden``: a fixed number K of hidden-unit weight vectors (K, D) (features / DAM memories learned in place);
- ``features``: a random-feature tensor T (F,) (DrDAM: T = Σ_μ φ(ξ_μ));
- ``tensor4``: a 4th-order Hebbian tensor kept in factored form, rows u_μ = ξ_μ / D^{3/4} (P, D);
- ``quadruplets``: 4th-order couplings T (M,) on M fixed random index quadruplets (a budgeted tensor4);
- ``simplices``: couplings T (M,) on M random simplices of mixed sizes (simplicial Hopfield, Burns & Fukai 2023);
- ``readout``: a readout V (C, K) from K hidden activities to C class units (rows carry the targets).

Rules with hyper-parameters are built by a factory: ``get_rule("storkey")``, ``get_rule("dreaming", t=10.0)``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
from torch import Tensor

from ..errors import HebbdamError
from ..memory.registry import TARGETS, MemoryKind, get_kind, kind_of
from ..settings.catalogue import RULES

COMBINES = ("sum", "concat", "none")


class RuleTargetError(HebbdamError, ValueError):
    """A rule applied to a memory (or stored tensor) of a kind it cannot train."""


def _default_init(target: str) -> Callable[[int, torch.Generator | None], Tensor]:
    def init(dim: int, generator: torch.Generator | None = None) -> Tensor:
        if target == "pairwise":
            return torch.zeros(dim, dim)
        if target in ("slots", "tensor4"):
            return torch.zeros(0, dim)
        raise ValueError(f"rule with target {target}: an explicit init is required")

    return init


def _identity(state: Tensor) -> Tensor:
    return state


def _rebuild(name: str, hyper: dict) -> Rule:
    return get_rule(name, **hyper)


@dataclass(frozen=True)
class Rule:
    """``update(state, patterns) -> new state``: state is the stored tensor, patterns (B, D) one batch of activity.

    ``init(dim, generator)`` builds the initial state; ``finalize(state)`` runs once after the last batch (e.g. the
    sleep phase of dreaming, zeroing a diagonal). ``combine`` says how shards from several devices merge: "sum"
    (additive writes from a zero state), "concat" (appended rows, in rank order) or "none" (sequential rules).
    ``uses_progress``: ``update`` takes a third argument, the training progress in [0, 1) (annealed rates).
    """

    name: str
    locality: str
    target: str
    update: Callable[..., Tensor]
    finalize: Callable[[Tensor], Tensor] = staticmethod(_identity)
    init: Callable[[int, torch.Generator | None], Tensor] | None = None
    combine: str = "none"
    uses_progress: bool = False
    hyper: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.locality not in ("local", "nonlocal"):
            raise ValueError(f"locality of rule {self.name}: expected local or nonlocal, got {self.locality!r}")
        if self.target not in TARGETS:
            raise ValueError(f"target of rule {self.name}: expected one of {', '.join(TARGETS)}, got {self.target!r}")
        if self.combine not in COMBINES:
            raise ValueError(
                f"combine of rule {self.name}: expected one of {', '.join(COMBINES)}, got {self.combine!r}"
            )

    def initial(self, dim: int, generator: torch.Generator | None = None) -> Tensor:
        """The state before any pattern is seen."""
        return (self.init or _default_init(self.target))(dim, generator)

    def step(self, state: Tensor, patterns: Tensor, progress: float = 0.0) -> Tensor:
        """One update on a batch (B, D); ``progress`` in [0, 1) is passed only to rules that anneal."""
        if self.uses_progress:
            return self.update(state, patterns, progress)
        return self.update(state, patterns)

    def fit(self, patterns: Tensor, epochs: int = 1, batch_size: int | None = None, generator=None) -> Tensor:
        """Without Lightning: initial state, ``epochs`` passes in order over batches of rows, then ``finalize``.

        Kept plain on purpose: a local rule has no loss, optimiser or gradient for a Trainer to drive, and the
        stages call it thousands of times per run, where a Trainer's set-up costs more than the write itself
        (``lit.storage.HebbianModule`` runs the same :meth:`step` under Lightning when a run wants its callbacks)."""
        state = self.initial(patterns.shape[1], generator).to(patterns.device, patterns.dtype)
        with torch.no_grad():
            for epoch, _, rows in passes_in_order(patterns, epochs, batch_size or patterns.shape[0]):
                state = self.step(state, rows, epoch / epochs)
            return self.finalize(state)

    def __reduce__(self):
        # registered rules pickle as (name, hyper-parameters): their updates are closures, and spawned
        # processes (DDP) must rebuild them
        if self.name in _REGISTRY:
            return (_rebuild, (self.name, dict(self.hyper)))
        return super().__reduce__()

    def describe(self) -> str:
        return f"rule {self.name} ({self.locality}; trains {TARGETS[self.target]})"


def passes_in_order(patterns: Tensor, epochs: int, batch_size: int) -> Iterator[tuple[int, int, Tensor]]:
    """(epoch, batch index, rows) for ``epochs`` passes in order over ``patterns`` (P, D) in batches of
    ``batch_size`` rows (the last batch of a pass may be shorter): the one loop of a local rule's write, in
    :meth:`Rule.fit` and in ``lit.storage.write_plain``."""
    for epoch in range(epochs):
        for batch_idx, rows in enumerate(patterns.split(batch_size)):
            yield epoch, batch_idx, rows


def check_target(rule: Rule, memory: object) -> None:
    """Raise :class:`RuleTargetError` naming the rule and the memory unless ``rule`` can train ``memory``.

    ``memory`` is a memory object (Hopfield, DenseAM, …) or a kind name of the memory registry ("hopfield",
    "dense", …). Compatibility is declared on both sides: the rule's ``target`` must be among the kind's ``accepts``.
    """
    kind: MemoryKind | None
    if isinstance(memory, str):
        kind = get_kind(memory)
        described = f"memory {kind.name} ({kind.description})"
    else:
        kind = kind_of(memory)
        described = type(memory).__name__ + ("" if kind is None else f" ({kind.description})")
    if kind is None or rule.target not in kind.accepts:
        raise RuleTargetError(f"{rule.describe()} cannot train {described}")


_REGISTRY: dict[str, Callable[..., Rule]] = {}


def register(rule: Rule) -> Rule:
    """Register a rule without hyper-parameters."""

    def factory(**hyper) -> Rule:
        if hyper:
            raise ValueError(f"rule {rule.name}: takes no hyper-parameters, got {', '.join(sorted(hyper))}")
        return rule

    _REGISTRY[rule.name] = factory
    return rule


def register_factory(name: str, factory: Callable[..., Rule]) -> Callable[..., Rule]:
    """Register ``factory(**hyper) -> Rule``; its keyword defaults are the rule's default hyper-parameters."""
    _REGISTRY[name] = factory
    return factory


def get_rule(name: str, **hyper) -> Rule:
    """The rule called ``name`` built with ``hyper`` (keyword hyper-parameters; unknown keys raise TypeError)."""
    if name not in _REGISTRY:
        raise KeyError(f"rule: expected one of {', '.join(sorted(_REGISTRY))}, got {name!r}")
    factory = _REGISTRY[name]
    allowed = [p for p in inspect.signature(factory).parameters if p != "hyper"]
    unknown = sorted(set(hyper) - set(allowed))
    if unknown:
        raise ValueError(
            f"rule {name}: unknown hyper-parameter {', '.join(unknown)}; expected {', '.join(allowed) or 'none'}"
        )
    if name in RULES:  # the values' check, one definition with the settings schemas (hebbdam.settings.catalogue)
        RULES[name].checked(hyper)
    return factory(**hyper)


def rule_defaults(name: str) -> dict:
    """The default hyper-parameters of rule ``name`` (what conf/rule/<name>.yaml lists; a tuple default as the list
    YAML holds)."""
    get_rule(name)
    params = inspect.signature(_REGISTRY[name]).parameters.values()
    return {
        p.name: list(p.default) if isinstance(p.default, tuple) else p.default
        for p in params
        if p.default is not inspect.Parameter.empty
    }


def rule_names() -> list[str]:
    return sorted(_REGISTRY)
