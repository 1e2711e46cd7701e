"""A learning rule: a pure function from a batch of activity to an update of a memory's stored tensor.

Every rule names its ``locality`` ("local": ΔW_ij uses only what is at neurons i and j; "nonlocal": anything else)
and its ``target`` (the kind of stored tensor it writes: "pairwise" weights W (D, D), or "slots", a DAM's memory
matrix Ξ (P, D)), so a figure can never silently mix local and non-local results and a rule is never applied to a
memory it cannot train.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor


@dataclass(frozen=True)
class Rule:
    """``update(state, patterns) -> new state``: state is the stored tensor, patterns (B, D) one batch of activity."""

    name: str
    locality: str
    target: str
    update: Callable[[Tensor, Tensor], Tensor]
    finalize: Callable[[Tensor], Tensor] = staticmethod(lambda state: state)

    def __post_init__(self):
        if self.locality not in ("local", "nonlocal"):
            raise ValueError(f"locality of rule {self.name}: expected local or nonlocal, got {self.locality!r}")
        if self.target not in ("pairwise", "slots"):
            raise ValueError(f"target of rule {self.name}: expected pairwise or slots, got {self.target!r}")


_REGISTRY: dict[str, Rule] = {}


def register(rule: Rule) -> Rule:
    _REGISTRY[rule.name] = rule
    return rule


def get_rule(name: str) -> Rule:
    if name not in _REGISTRY:
        raise KeyError(f"rule: expected one of {', '.join(sorted(_REGISTRY))}, got {name!r}")
    return _REGISTRY[name]


def rule_names() -> list[str]:
    return sorted(_REGISTRY)
