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

import torch
from torch import Tensor

from ..config import Params
from ..data.prepare import load_processed
from ..data.sequences import digit_sequence, random_sequence
from ..logs import say
from ..memory import build as build_memory
from ..metrics import binarise, loglog_slope
from ..settings import sequences as schema
from ..settings.sequences import Model, Settings
from .common import Curves, built, compute_device, generator_for, run_stage, select

STEP_CHUNK = 1024  # states per synchronous step when checking every transition of a long sequence
DIGIT_THRESHOLD = 0.5  # digit frames: a pixel is +1 strictly above half intensity


def parse_settings(params: Params) -> Settings:
    """The settings of :mod:`hebbdam.settings.sequences`, checked whole before any work, with their rules and
    separations built and this machine's device."""
    return built(schema.parse_settings(params, device=compute_device(params)))


def build(model: Model, patterns: Tensor):
    """The model's registry memory (``Model.memory``) of the cyclic sequence ``patterns`` (P, D), transfer f of
    ``kind`` and ``degree``."""
    return build_memory(model.memory, patterns, patterns.shape[1], {"kind": model.kind, "degree": model.degree})


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

    limit = model.scan_limit(dim, settings.max_length)
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
