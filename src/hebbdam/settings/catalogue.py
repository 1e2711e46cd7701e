"""What the learning rules and memory kinds are, without building one: names, the tensor each rule writes, the
tensors each memory kind is built from, and each rule's hyper-parameters with their check.

The registries (``hebbdam.rules``, ``hebbdam.memory.registry``) build the torch objects; this table is what a
settings schema checks an arm against, so composing a config never imports torch. ``rules.get_rule`` checks its
hyper-parameters here (one check for both); ``tests/settings/test_catalogue.py`` requires every registered rule's
locality, target and defaults, and every registered memory kind's ``accepts`` and parameter count, to equal its entry
here (a rule or kind added to a registry is added here too).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

TARGETS: dict[str, str] = {  # the kinds of stored tensor a rule can write
    "pairwise": "pairwise weights W (D, D)",
    "slots": "a DAM memory matrix Ξ (P, D)",
    "hidden": "hidden-unit weights (K, D)",
    "features": "a random-feature tensor T (F,)",
    "tensor4": "a 4th-order Hebbian tensor in factored form (P, D)",
    "quadruplets": "4th-order couplings on M random quadruplets (M,)",
    "simplices": "couplings on M random simplices (sets of 2, 3, 4, … neurons) of mixed sizes (M,)",
    "readout": "a readout (C, K) from hidden activity to class units",
    "coactivity": "co-activation counts (D+1, D+1) of [1, ξ] (BCPNN's probability estimates)",
    "trace": "a holographic trace t (D,): superposed circular convolutions of pairs",
}

# the memory kinds of the registry and the rule targets each is built from (memory.registry.register_kind checks)
KIND_ACCEPTS: dict[str, tuple[str, ...]] = {
    "amari": ("slots",),
    "bcpnn": ("coactivity",),
    "dense": ("slots", "hidden"),
    "gaussian": ("slots",),
    "holographic": ("trace",),
    "hopfield": ("pairwise",),
    "kohonen": ("slots",),
    "minerva": ("slots",),
    "projection": ("pairwise",),
    "quadruplets": ("quadruplets",),
    "random_features": ("features",),
    "sequence": ("slots",),
    "sequence_pseudo_inverse": ("slots",),
    "simplicial": ("simplices",),
    "softmax": ("slots",),
    "tensor4": ("tensor4",),
    "threshold": ("pairwise",),
    "universal": ("slots",),
    "willshaw": ("pairwise",),
}

# the parameter count M of each kind at dimension D and size knob ``size`` (memory.registry's ``parameters``)
KIND_PARAMETERS: dict[str, Callable[[int, int], int]] = {
    "bcpnn": lambda dim, size: dim * dim + dim,
    "holographic": lambda dim, size: dim,
    "hopfield": lambda dim, size: dim * dim,
    "projection": lambda dim, size: dim * dim,
    "quadruplets": lambda dim, size: size,
    "simplicial": lambda dim, size: size,
    "random_features": lambda dim, size: 2 * size,
    "threshold": lambda dim, size: dim * dim,
    "willshaw": lambda dim, size: dim * dim,
    **{kind: lambda dim, size: size * dim for kind in ("amari", "dense", "gaussian", "kohonen", "minerva", "sequence")},
    **{kind: lambda dim, size: size * dim for kind in ("sequence_pseudo_inverse", "softmax", "tensor4", "universal")},
}

# the names the Universal Hopfield Network and the sequence mixers take (memory.universal, memory.mixers)
UHN_SIMILARITIES = ("dot", "l1_dot", "cosine", "euclidean", "manhattan")
UHN_SEPARATIONS = ("identity", "power", "softmax", "max")
FEATURE_MAPS = ("identity", "elu", "dpfp", "taylor2", "favor")


def _covariance(mean: float | None) -> None:
    if mean is not None and (isinstance(mean, bool) or not isinstance(mean, int | float) or not -1 <= mean <= 1):
        raise ValueError(f"mean: expected null or a mean ±1 activity in [-1, 1], got {mean!r}")


def _delta(lr: float, margin: float) -> None:
    if not lr > 0 or not margin >= 0:
        raise ValueError(f"lr, margin: expected lr > 0 and margin ≥ 0, got lr={lr!r}, margin={margin!r}")


def _delta_readout(classes: int, lr: float) -> None:
    if classes < 2 or not lr > 0:
        raise ValueError(f"classes, lr: expected classes ≥ 2 and lr > 0, got {classes!r}, {lr!r}")


def _dreaming(t: float) -> None:
    if not t >= 0:
        raise ValueError(f"t: expected a dreaming time ≥ 0, got {t!r}")


def _dreaming_sleep(t: float, steps: int) -> None:
    if not t >= 0 or steps < 1:
        raise ValueError(f"t, steps: expected t ≥ 0 and steps ≥ 1, got t={t!r}, steps={steps!r}")


def _krotov_hopfield(units: int, p: float, rank: int, anti: float, lr: float, init_std: float) -> None:
    if units < 1 or not p >= 2 or rank < 1 or not lr > 0 or not anti >= 0 or not init_std > 0:
        raise ValueError(
            "units, p, rank, lr, anti, init_std: expected units ≥ 1, p ≥ 2, rank ≥ 1, lr > 0, anti ≥ 0, init_std > 0, "
            f"got {units}, {p}, {rank}, {lr}, {anti}, {init_std}"
        )


def _oja(lr: float, units: int) -> None:
    if not lr > 0 or units < 1:
        raise ValueError(f"lr, units: expected lr > 0 and units ≥ 1, got lr={lr!r}, units={units!r}")


def _prototype(units: int) -> None:
    if isinstance(units, bool) or not isinstance(units, int) or units < 1:
        raise ValueError(f"units: expected an integer ≥ 1, got {units!r}")


def _quadruplets(count: int, seed: int) -> None:
    if count < 1:
        raise ValueError(f"count: expected a number of quadruplets ≥ 1, got {count!r}")


def check_mix(orders, shares) -> None:
    """A ValueError unless ``orders`` are distinct simplex sizes ≥ 2 and ``shares`` one fraction of the budget each,
    summing to 1 (the simplicial rule's mix; ``memory.simplicial`` checks with it too)."""
    orders, shares = list(orders), list(shares)
    if len(orders) != len(shares) or not orders:
        raise ValueError(f"orders, shares: expected two lists of one length, got {orders} and {shares}")
    if any(k < 2 for k in orders) or len(set(orders)) != len(orders):
        raise ValueError(f"orders: expected distinct simplex sizes of at least 2 neurons, got {orders}")
    if any(s < 0 for s in shares) or abs(sum(shares) - 1.0) > 1e-9:
        raise ValueError(f"shares: expected fractions of the budget summing to 1, got {shares}")


def _simplicial(count: int, seed: int, orders, shares) -> None:
    if count < 1:
        raise ValueError(f"count: expected a number of simplices ≥ 1, got {count!r}")
    check_mix(orders, shares)


def _random_features(features: int, beta: float, seed: int) -> None:
    if features < 2 or features % 2:
        raise ValueError(f"features: expected an even number ≥ 2, got {features!r}")


@dataclass(frozen=True)
class RuleInfo:
    """A rule as a settings schema sees it: its ``locality``, the tensor it writes (``target``), its
    hyper-parameters with their defaults, and ``check(**hyper)`` (a ValueError naming the values it refuses).

    What an experiment must know to read the state it writes:

    - ``keyed``: the state (K, D) is the keys of K slots whose values are the K patterns written (a pseudo-inverse:
      the dual basis of the slots), not a slot memory whose keys are its values;
    - ``normed_units``: hidden units (K, D) that converge to ‖W_μ‖_p = 1 (``p`` a hyper-parameter), with entries
      of no fixed scale: read as visible states scaled to max |entry| 1 (``rules.hidden.max_scaled``), and a fit
      reports how near its units are to the sphere."""

    name: str
    locality: str
    target: str
    defaults: dict = field(default_factory=dict)
    check: Callable[..., None] | None = None
    keyed: bool = False
    normed_units: bool = False

    def checked(self, hyper: dict) -> dict:
        """``hyper`` over the defaults, checked: a ValueError for an unknown key or a refused value."""
        unknown = sorted(set(hyper) - set(self.defaults))
        if unknown:
            expected = ", ".join(self.defaults) or "none"
            raise ValueError(f"rule {self.name}: unknown hyper-parameter {', '.join(unknown)}; expected {expected}")
        values = {**self.defaults, **hyper}
        if self.check is not None:
            self.check(**values)
        return values

    def describe(self) -> str:
        return f"rule {self.name} ({self.locality}; trains {TARGETS[self.target]})"


RULES: dict[str, RuleInfo] = {
    info.name: info
    for info in (
        RuleInfo("bcpnn", "local", "coactivity"),
        RuleInfo("covariance", "local", "pairwise", {"mean": None}, _covariance),
        RuleInfo("delta", "local", "pairwise", {"lr": 1.0, "margin": 1.0}, _delta),
        RuleInfo("delta_readout", "local", "readout", {"classes": 10, "lr": 0.1}, _delta_readout),
        RuleInfo("dreaming", "nonlocal", "pairwise", {"t": 10.0}, _dreaming),
        RuleInfo("dreaming_sleep", "local", "pairwise", {"t": 10.0, "steps": 200}, _dreaming_sleep),
        RuleInfo("hebb", "local", "pairwise"),
        RuleInfo("holographic", "local", "trace"),
        RuleInfo(
            "krotov_hopfield",
            "local",
            "hidden",
            {"units": 100, "p": 3.0, "rank": 2, "anti": 0.4, "lr": 0.04, "init_std": 1.0},
            _krotov_hopfield,
            normed_units=True,
        ),
        RuleInfo("oja", "local", "hidden", {"lr": 0.01, "units": 1}, _oja),
        RuleInfo("prototype", "local", "hidden", {"units": 64}, _prototype),
        RuleInfo("pseudo_inverse", "nonlocal", "pairwise"),
        RuleInfo("pseudo_inverse_slots", "nonlocal", "slots", keyed=True),
        RuleInfo("quadruplets", "local", "quadruplets", {"count": 4096, "seed": 0}, _quadruplets),
        RuleInfo("random_features", "local", "features", {"features": 4096, "beta": 0.05, "seed": 0}, _random_features),
        RuleInfo(
            "simplicial",
            "local",
            "simplices",
            {"count": 4096, "seed": 0, "orders": [2, 3], "shares": [0.5, 0.5]},
            _simplicial,
        ),
        RuleInfo("slot", "local", "slots"),
        RuleInfo("storkey", "local", "pairwise"),
        RuleInfo("tensor4", "local", "tensor4"),
        RuleInfo("willshaw", "local", "pairwise"),
    )
}


def rule_names() -> list[str]:
    return sorted(RULES)


def rule_info(name: str) -> RuleInfo:
    """The entry of rule ``name``; a KeyError listing the rules otherwise (as ``rules.get_rule``)."""
    if name not in RULES:
        raise KeyError(f"rule: expected one of {', '.join(rule_names())}, got {name!r}")
    return RULES[name]


def trains(rule: RuleInfo, kind: str) -> bool:
    """Whether ``rule`` writes a tensor that the memory kind ``kind`` is built from."""
    return rule.target in KIND_ACCEPTS[kind]


def is_pairwise(kind: str) -> bool:
    """Whether memory kind ``kind`` is built from pairwise weights W (D, D) (``memory.registry.MemoryKind.pairwise``,
    torch-free): it holds D² numbers and a sweep costs D² per state whatever it stores, where a slot, hidden-unit or
    feature memory grows with the patterns it stores."""
    return "pairwise" in KIND_ACCEPTS[kind]


def holds_rows(kind: str) -> bool:
    """Whether memory kind ``kind`` is K rows of D numbers (slots, hidden units or a tensor's factor rows; ``size`` =
    K, M = K·D): K patterns' worth, beside which the memory that keeps K patterns and forgets the rest is the trivial
    baseline."""
    return bool({"slots", "hidden", "tensor4"} & set(KIND_ACCEPTS[kind]))


def is_keyed(rule: str) -> bool:
    """Whether ``rule`` writes keyed slots (:attr:`RuleInfo.keyed`); False for an arm name outside the catalogue
    (``backprop``, ``bcpnn_hidden``)."""
    return rule in RULES and RULES[rule].keyed


def has_normed_units(rule: str) -> bool:
    """Whether ``rule`` learns units on a p-norm sphere (:attr:`RuleInfo.normed_units`); False for an arm name
    outside the catalogue (``backprop``, ``bcpnn_hidden``)."""
    return rule in RULES and RULES[rule].normed_units


def parameter_count(kind: str, dim: int, size: int) -> int:
    """M of memory kind ``kind`` at dimension D and size knob ``size`` (hopfield D², random_features 2Y, quadruplets M,
    a slot or hidden-unit memory K·D)."""
    return KIND_PARAMETERS[kind](dim, size)
