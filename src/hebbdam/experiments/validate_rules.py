"""Measurements that check each rule against its published behaviour (used by tests and ``hebbdam validate-rules``).

Criteria, named once here:
- *retrieved*: after asynchronous relaxation from ``FLIP`` = 10% flipped bits, the final overlap with the stored
  pattern is ≥ ``RETRIEVED_OVERLAP`` = 0.95 (basin criterion, ρ = 0.1);
- *critical load*: the load α = P/D where the fraction of retrieved patterns crosses ½ (``metrics.crossing``, linear
  interpolation on a grid of loads; None when the grid does not bracket it);
- *fixed point*: one synchronous step from the stored pattern changes no bit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from ..data.synthetic import flip_bits, rademacher
from ..dynamics import relax
from ..memory import Hopfield
from ..metrics import crossing, loglog_slope
from ..rules.base import Rule, get_rule

FLIP = 0.1
RETRIEVED_OVERLAP = 0.95
HALF = 0.5


def fixed_point_fraction(weights: Tensor, patterns: Tensor) -> float:
    """Fraction of stored patterns (P, D) left unchanged by one synchronous step of the network ``weights``."""
    stepped = relax(Hopfield(weights), patterns, mode="one-step").states
    return float((stepped == patterns).all(1).float().mean())


def retrieval(
    weights: Tensor, patterns: Tensor, generator: torch.Generator, flip: float = FLIP, max_sweeps: int = 12
) -> Tensor:
    """Final overlaps (P,) after asynchronous relaxation from each pattern with ``flip`` of its bits flipped."""
    start = flip_bits(patterns, flip, generator)
    final = relax(Hopfield(weights), start, mode="async", max_sweeps=max_sweeps, generator=generator).states
    return (final * patterns).mean(1)


def retrieved_fraction(rule: Rule, dim: int, load: float, trials: int, seed: int, **fit) -> float:
    """Mean fraction of patterns retrieved (overlap ≥ 0.95 from 10% flips) over ``trials`` random pattern sets."""
    generator = torch.Generator().manual_seed(seed)
    count = max(1, round(load * dim))
    fractions = []
    for _ in range(trials):
        patterns = rademacher(count, dim, generator)
        weights = rule.fit(patterns, **fit)
        fractions.append(float((retrieval(weights, patterns, generator) >= RETRIEVED_OVERLAP).float().mean()))
    return sum(fractions) / len(fractions)


def critical_load(
    rule: Rule, dim: int, loads: Sequence[float], trials: int = 2, seed: int = 0
) -> tuple[float | None, dict[float, float]]:
    """Basin-criterion critical load of ``rule`` at dimension ``dim`` and the retrieved fraction at each load."""
    curve = {load: retrieved_fraction(rule, dim, load, trials, seed + i) for i, load in enumerate(loads)}
    return crossing(list(curve), list(curve.values()), HALF), curve


def fixed_point_capacity(rule: Rule, dim: int, counts: Sequence[int], trials: int = 3, seed: int = 0, **fit) -> int:
    """Largest P in ``counts`` (ascending) at which every stored pattern of every trial is a fixed point; 0 if none."""
    generator = torch.Generator().manual_seed(seed)
    best = 0
    for count in counts:
        sets = [rademacher(count, dim, generator) for _ in range(trials)]
        if all(fixed_point_fraction(rule.fit(x, **fit), x) == 1.0 for x in sets):
            best = count
        else:
            break
    return best


# the checks, each returning plain numbers -----------------------------------------------------------
def hebb_critical_load(dim: int = 1000, loads=(0.13, 0.14, 0.15, 0.16, 0.17), trials: int = 2, seed: int = 0):
    alpha, curve = critical_load(get_rule("hebb"), dim, loads, trials, seed)
    return {"dim": dim, "critical_load": alpha, "retrieved_fraction": {str(k): v for k, v in curve.items()}}


def storkey_vs_hebb(dim: int = 200, trials: int = 3, seed: int = 0):
    counts = list(range(2, dim // 2, 2))
    return {
        "dim": dim,
        "hebb_fixed_point_capacity": fixed_point_capacity(get_rule("hebb"), dim, counts, trials, seed),
        "storkey_fixed_point_capacity": fixed_point_capacity(get_rule("storkey"), dim, counts, trials, seed),
    }


def pseudo_inverse_fixed_points(dim: int = 200, load: float = 0.9, seed: int = 0):
    patterns = rademacher(round(load * dim), dim, torch.Generator().manual_seed(seed))
    return {
        "dim": dim,
        "load": load,
        "fixed_point_fraction": fixed_point_fraction(get_rule("pseudo_inverse").fit(patterns), patterns),
    }


def dreaming_vs_hebb(dim: int = 400, load: float = 0.3, t: float = 10.0, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    patterns = rademacher(round(load * dim), dim, generator)
    out = {"dim": dim, "load": load, "t": t}
    for name, rule in (("hebb", get_rule("hebb")), ("dreaming", get_rule("dreaming", t=t))):
        overlaps = retrieval(rule.fit(patterns), patterns, torch.Generator().manual_seed(seed + 1))
        out[f"{name}_mean_overlap"] = float(overlaps.mean())
        out[f"{name}_retrieved_fraction"] = float((overlaps >= RETRIEVED_OVERLAP).float().mean())
    return out


def delta_fixed_points(dim: int = 200, load: float = 1.0, epochs: int = 100, seed: int = 0):
    patterns = rademacher(round(load * dim), dim, torch.Generator().manual_seed(seed))
    weights = get_rule("delta").fit(patterns, epochs=epochs)
    return {"dim": dim, "load": load, "epochs": epochs, "fixed_point_fraction": fixed_point_fraction(weights, patterns)}


def random_feature_slope(
    dim: int = 16,
    count: int = 8,
    beta: float = 0.1,
    features=(64, 256, 1024, 4096, 16384),
    seeds: int = 8,
    flip: float = 0.125,
    seed: int = 0,
):
    """Fitted log-log slope of the mean |E_features - E_exact| against the number of random features F.

    Queries are the stored patterns with ``flip`` of their bits flipped; the error is averaged over queries and over
    ``seeds`` independent feature maps. Theory: the kernel estimate has standard deviation ∝ F^{-1/2}, so ≈ -0.5.
    """
    from ..rules.dense import feature_energy, gaussian_slot_energy

    generator = torch.Generator().manual_seed(seed)
    patterns = rademacher(count, dim, generator)
    queries = flip_bits(patterns, flip, generator)
    exact = gaussian_slot_energy(patterns, queries, beta).double()
    errors = []
    for size in features:
        rule_errors = []
        for s in range(seeds):
            rule = get_rule("random_features", features=size, beta=beta, seed=seed * 1000 + s)
            tensor = rule.fit(patterns.double())
            approx = feature_energy(tensor, queries.double(), size, beta, seed * 1000 + s)
            rule_errors.append((approx - exact).abs().mean())
        errors.append(float(torch.stack(rule_errors).mean()))
    slope = loglog_slope(list(features), errors)
    return {
        "dim": dim,
        "count": count,
        "beta": beta,
        "features": list(features),
        "mean_abs_error": errors,
        "slope": slope,
    }


def _top_layer_accuracy(train_x: Tensor, train_y: Tensor, test_x: Tensor, test_y: Tensor) -> float:
    from sklearn.linear_model import LogisticRegression

    def scaled(h: Tensor):
        return (h / h.amax(1, keepdim=True).clamp_min(1e-12)).numpy()

    classifier = LogisticRegression(max_iter=3000).fit(scaled(train_x), train_y.numpy())
    return float(classifier.score(scaled(test_x), test_y.numpy()))


def krotov_hopfield_digits(units: int = 200, epochs: int = 60, power: float = 4.5, seed: int = 0):
    """K&H 2019 hidden units learned without labels on scikit-learn digits (pixels in [0, 1]), then a logistic
    top layer on ReLU(⟨W, v⟩_p)^power (each row scaled by its max). The same top layer on the *untrained* random
    initial units is reported as a control."""
    from ..lit.data import digits
    from ..rules.hidden import hidden_activity

    train_x, train_y, test_x, test_y = digits(seed=seed)
    rule = get_rule("krotov_hopfield", units=units)
    p = rule.hyper["p"]
    initial = rule.initial(train_x.shape[1], torch.Generator().manual_seed(seed))
    weights = rule.fit(train_x, epochs=epochs, batch_size=100, generator=torch.Generator().manual_seed(seed))

    def score(w: Tensor) -> float:
        return _top_layer_accuracy(
            hidden_activity(w, train_x, p, power), train_y, hidden_activity(w, test_x, p, power), test_y
        )

    return {
        "units": units,
        "epochs": epochs,
        "test_accuracy": score(weights),
        "untrained_test_accuracy": score(initial),
    }


def main(args) -> None:
    """``hebbdam validate-rules [--out file.json]``: run every check above and print (and optionally write) JSON.

    ``overrides`` may name a subset of checks, e.g. ``hebbdam validate-rules storkey delta``.
    """
    import json

    from .. import io
    from ..logs import say

    def backprop_digits():
        from ..lit.backprop import digits_classifier

        return digits_classifier()[1]

    checks: dict[str, Callable[[], object]] = {
        "hebb": hebb_critical_load,
        "storkey": storkey_vs_hebb,
        "pseudo_inverse": pseudo_inverse_fixed_points,
        "dreaming": dreaming_vs_hebb,
        "delta": delta_fixed_points,
        "random_features": random_feature_slope,
        "krotov_hopfield": krotov_hopfield_digits,
        "backprop_classifier": backprop_digits,
    }
    chosen = list(getattr(args, "overrides", None) or checks)
    unknown = [name for name in chosen if name not in checks]
    if unknown:
        from ..errors import HebbdamError

        raise HebbdamError(f"validate-rules: unknown check {', '.join(unknown)}; expected some of {', '.join(checks)}")
    torch.manual_seed(0)
    results = {}
    for name in chosen:
        results[name] = checks[name]()
        say(f"validate-rules: {name}: {json.dumps(results[name])}")
    print(json.dumps(results, indent=2, sort_keys=True))
    if getattr(args, "out", None):
        io.write_json(args.out, results)
