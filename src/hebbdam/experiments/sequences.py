"""E4: sequence capacity of SeqNet and DenseNets (Chaudhry, Zavatone-Veth, Krotov & Pehlevan 2023).

A cyclic sequence ξ_1 → … → ξ_P → ξ_1 of P random ±1 patterns is stored in a :class:`SequenceMemory` (linear f =
SeqNet, polynomial f = x^d, exponential f = e^{(D-1)(x-1)}) and probed with synchronous steps:
- a *transition* ξ_μ → ξ_{μ+1} is correct when one step from ξ_μ gives ξ_{μ+1} with no bit error;
- a *sequence* is recalled when the rollout from ξ_1 reproduces every pattern for P steps. By induction that is
  the same event as "all P transitions correct", which is how it is computed (batched, not one step at a time).
Capacity criteria, at a given (model, D, P) over ``trials`` independent sequences:
- P passes the transition criterion when ≥ ``pass_fraction`` of the probed single transitions (``probes`` random
  μ per trial, pooled over trials) are correct;
- P passes the sequence criterion when ≥ ``pass_fraction`` of the trials recall the whole sequence.
P_T / P_S is the largest P that passes, found by a geometric bracket from the theory value and an integer bisection
(to ``resolution`` relative width). Every (model, D, P, trial) draws its own sequence from ``generator_for``, so the
result does not depend on the search path.

Two more probes: biased patterns P(ξ = ±1) = (1 ± ε)/2 at one D (Hebbian nets, and the *generalised pseudo-inverse*
rule, a non-local baseline implemented here), and a correlated sequence of binarised digit images (mnist5k; 8×8
digits on ci) whose classes cycle 0…9 (fraction of correct transitions per model).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from .. import references as ref
from ..config import ConfigError, Params
from ..data.prepare import load_processed
from ..data.sequences import digit_sequence, random_sequence
from ..logs import say
from ..memory import PseudoInverseSequence, SequenceMemory
from ..metrics import binarise, loglog_slope
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
from .common import Curves, compute_device, data_root, generator_for, run_stage, select

KINDS = ("linear", "polynomial", "exponential")
RULES = ("hebbian", "pseudo_inverse")
STEP_CHUNK = 1024  # states per synchronous step when checking every transition of a long sequence
DIGIT_THRESHOLD = 0.5  # digit frames: a pixel is +1 strictly above half intensity


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
    device: torch.device = torch.device("cpu")

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


def parse_settings(params: Params) -> Settings:
    """The ``sequences`` section (and data.root) read into :class:`Settings`, checked whole before any work."""
    return parse(Settings, params.section("sequences"), data_root=data_root(params), device=compute_device(params))


def build(model: Model, patterns: Tensor):
    if model.rule == "pseudo_inverse":
        return PseudoInverseSequence(patterns, model.kind, model.degree)
    return SequenceMemory(patterns, kind=model.kind, degree=model.degree, cyclic=True)


def transitions_correct(network, patterns: Tensor, index: Tensor) -> Tensor:
    """(k,) bool: one synchronous step from ξ_index is exactly ξ_{index+1} (cyclic)."""
    targets = patterns[(index + 1) % patterns.shape[0]]
    out = [
        (network.step(patterns[index[i : i + STEP_CHUNK]]) == targets[i : i + STEP_CHUNK]).all(dim=1)
        for i in range(0, len(index), STEP_CHUNK)
    ]
    return torch.cat(out)


def whole_sequence_correct(network, patterns: Tensor) -> bool:
    """All P transitions exact, i.e. the rollout from ξ_1 reproduces the whole cyclic sequence; stops at the first
    failing chunk."""
    count = patterns.shape[0]
    for i in range(0, count, STEP_CHUNK):
        index = torch.arange(i, min(count, i + STEP_CHUNK), device=patterns.device)
        if not bool(transitions_correct(network, patterns, index).all()):
            return False
    return True


def evaluate(model: Model, dim: int, length: int, settings: Settings, epsilon: float = 0.0) -> dict[str, float]:
    """Both success fractions at one (model, D, P): probed single transitions, and whole sequences."""
    transition_hits, sequence_hits = [], []
    for trial in range(settings.trials):
        generator = generator_for(settings.seed, model.name, model.rule, dim, length, epsilon, trial)
        patterns = random_sequence(length, dim, generator, epsilon).to(settings.device)
        network = build(model, patterns)
        probes = torch.randperm(length, generator=generator)[: settings.probes].to(settings.device)
        with torch.no_grad():
            transition_hits.append(transitions_correct(network, patterns, probes).double())
            sequence_hits.append(float(whole_sequence_correct(network, patterns)))
    return {
        "transition": torch.cat(transition_hits).mean().item(),
        "sequence": sum(sequence_hits) / len(sequence_hits),
    }


def search_capacity(passes: Callable[[int], bool], start: int, resolution: float, limit: int) -> int:
    """Largest P ≥ 1 with ``passes(P)`` (0 if P = 1 fails): geometric bracket from ``start`` (×2 / ÷2), then
    integer bisection until the bracket is narrower than max(1, ``resolution`` · P). Stops at ``limit``."""
    start = max(1, min(limit, start))
    if passes(start):
        low, high = start, None
        while high is None:
            if low >= limit:
                return limit
            candidate = min(limit, low * 2)
            if passes(candidate):
                low = candidate
            else:
                high = candidate
    else:
        low, high = 0, start
        while low == 0 and high > 1:
            candidate = max(1, high // 2)
            if passes(candidate):
                low = candidate
            else:
                high = candidate
        if low == 0:
            return 0
    while high - low > max(1, resolution * low):
        middle = (low + high) // 2
        if passes(middle):
            low = middle
        else:
            high = middle
    return low


def capacities(model: Model, dim: int, settings: Settings, epsilon: float = 0.0) -> dict:
    """P_T and P_S of one (model, D) and the evaluated points."""
    cache: dict[int, dict[str, float]] = {}

    def measured(length: int) -> dict[str, float]:
        if length not in cache:
            cache[length] = evaluate(model, dim, length, settings, epsilon)
        return cache[length]

    limit = settings.max_length if model.rule == "hebbian" else min(settings.max_length, 2 * dim)
    out = {}
    for key, whole in (("transition", False), ("sequence", True)):
        theory = model.theory(dim, whole)
        start = round(theory) if theory is not None and epsilon == 0.0 else dim // 2

        def passes(p: int, key: str = key) -> bool:
            return measured(p)[key] >= settings.pass_fraction

        out[key] = search_capacity(passes, start, settings.resolution, limit)
    points = [{"P": p, **{k: round(v, 6) for k, v in r.items()}} for p, r in sorted(cache.items())]
    return {"P_T": out["transition"], "P_S": out["sequence"], "points": points, "capped": limit in out.values()}


# the three parts ---------------------------------------------------------------------------------------------------
def scan_dimensions(settings: Settings) -> tuple[dict, list[dict]]:
    record: dict = {}
    curves: list[dict] = []
    for model in settings.models:
        entry: dict = {"kind": model.kind, "d": model.d, "rule": model.rule, "locality": model.locality}
        for dim in model.dims:
            start = time.perf_counter()
            result = capacities(model, dim, settings)
            theory_t, theory_s = model.law(dim, False), model.law(dim, True)
            entry[f"D{dim}"] = {
                "dim": dim,
                "P_T": result["P_T"],
                "P_S": result["P_S"],
                "theory_P_T": round(theory_t, 6),
                "theory_P_S": round(theory_s, 6),
                "ratio_T": round(result["P_T"] / theory_t, 6),
                "ratio_S": round(result["P_S"] / theory_s, 6),
                "capped": result["capped"],
            }
            curves.extend({"model": model.name, "D": dim, **p} for p in result["points"])
            say(
                f"sequences {model.name} D={dim}: P_T={result['P_T']} (theory {theory_t:.1f}), "
                f"P_S={result['P_S']} (theory {theory_s:.1f}) ({time.perf_counter() - start:.1f} s)"
            )
        fitted = [(d, entry[f"D{d}"]["P_T"]) for d in model.dims if entry[f"D{d}"]["P_T"] > 0]
        if model.kind != "exponential" and len(fitted) >= 2:
            entry["exponent_T"] = round(loglog_slope([d for d, _ in fitted], [p for _, p in fitted]), 6)
            entry["theory_exponent_T"] = round(
                loglog_slope([d for d, _ in fitted], [model.law(d, False) for d, _ in fitted]), 6
            )
        record[model.name] = entry
    return record, curves


def scan_bias(settings: Settings) -> tuple[dict, list[dict]]:
    record: dict = {"D": settings.biased.dim}
    curves: list[dict] = []
    for model in settings.biased.models:
        entry: dict = {"kind": model.kind, "d": model.d, "rule": model.rule, "locality": model.locality}
        for epsilon in settings.biased.epsilons:
            start = time.perf_counter()
            result = capacities(model, settings.biased.dim, settings, epsilon)
            entry[f"eps{epsilon:g}"] = {"epsilon": epsilon, "P_T": result["P_T"], "P_S": result["P_S"]}
            curves.append({"model": model.name, "epsilon": epsilon, "P_T": result["P_T"], "P_S": result["P_S"]})
            say(
                f"sequences biased {model.name} ({model.locality}) ε={epsilon:g} D={settings.biased.dim}: "
                f"P_T={result['P_T']}, P_S={result['P_S']} ({time.perf_counter() - start:.1f} s)"
            )
        record[model.name] = entry
    return record, curves


def digit_frames(dataset: str, root: str) -> tuple[Tensor, Tensor]:
    """The training images of a prepared source binarised at half intensity: ±1 (N, D) and labels (N,)."""
    data = load_processed(dataset, root)
    return binarise(data["x_train"].float(), DIGIT_THRESHOLD, ties=-1.0), data["y_train"].long()


def digits_recall(settings: Settings) -> dict:
    """Fraction of exactly correct transitions (and of correct bits) on correlated digit-frame sequences."""
    frames, labels = digit_frames(settings.digits.dataset, settings.data_root)
    sequences = [
        digit_sequence(frames, labels, settings.digits.length, generator_for(settings.seed, "digits", trial))
        for trial in range(settings.digits.trials)
    ]
    mean_overlap = torch.stack(
        [(s @ s.T / s.shape[1]).triu(1).sum() / (len(s) * (len(s) - 1) / 2) for s in sequences]
    ).mean()
    record: dict = {
        "dataset": settings.digits.dataset,
        "D": frames.shape[1],
        "length": settings.digits.length,
        "trials": settings.digits.trials,
        "mean_pattern_overlap": round(mean_overlap.item(), 6),
    }
    for model in settings.digit_models:
        exact, bits = [], []
        for sequence in sequences:
            sequence = sequence.to(settings.device)
            network = build(model, sequence)
            with torch.no_grad():
                nxt = network.step(sequence)
            target = sequence.roll(-1, dims=0)
            exact.append((nxt == target).all(dim=1).double())
            bits.append((nxt == target).double().mean(dim=1))
        record[model.name] = {
            "kind": model.kind,
            "d": model.d,
            "transition_fraction": round(torch.cat(exact).mean().item(), 6),
            "bit_fraction": round(torch.cat(bits).mean().item(), 6),
        }
        say(f"sequences digits {model.name}: {record[model.name]['transition_fraction']:.3f} transitions correct")
    return record


def main(args) -> None:
    run_stage(
        args,
        "sequences",
        parse_settings,
        compute,
        headline=lambda record: select(record, "random.*.exponent_T", "digits.*.transition_fraction"),
        curves=(
            Curves("sequences_curves.json", x="P", y=("sequence", "transition"), series=("model", "D"), rows="search"),
        ),
    )


def compute(settings: Settings, params: Params, tracker) -> dict[str, object]:
    """The record (DVC metrics) and the search points (DVC plots)."""
    random_record, random_curves = scan_dimensions(settings)
    bias_record, bias_curves = scan_bias(settings)
    digits = digits_recall(settings)
    record = {
        "criterion": {
            "trials": settings.trials,
            "probes": settings.probes,
            "pass_fraction": settings.pass_fraction,
            "resolution": settings.resolution,
        },
        "random": random_record,
        "biased": bias_record,
        "digits": digits,
    }
    return {"sequences.json": record, "sequences_curves.json": {"search": random_curves, "biased": bias_curves}}
