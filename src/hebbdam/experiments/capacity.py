"""E1 slice: storage capacity of a Hebbian Hopfield network and a polynomial DAM on random ±1 patterns.

For each arm (model + rule + dynamics), dimension D and load α = P/D, ``trials`` independent pattern sets are stored
through Lightning (``lit.store``) and probed:
- fixed point: the pattern is unchanged by one synchronous step;
- exact recall: relaxation from the pattern with ρD flipped bits ends exactly on it (basin criterion);
- retrieved: the final overlap is at least ``retrieval_overlap`` (the retrieval phase of Amit, Gutfreund &
  Sompolinsky: at α_c ≈ 0.138 retrieval states still keep ~1.5% wrong bits, overlap ≈ 0.97).
Per (arm, D): ``critical_load`` — where the retrieved fraction crosses ½ (the finite-D estimate of α_c);
``exact_capacity_load`` — the largest load with exact recall ≥ 99% (SCIENCE.md E1b); ``fixed_point_capacity_load`` —
the largest load with every probed pattern a fixed point.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
from tqdm import tqdm

from ..config import ConfigError, Params
from ..data.synthetic import flip_bits, rademacher
from ..dynamics import relax
from ..lit import store
from ..logs import say
from ..memory import Exponential, Power, Separation
from ..metrics import crossing_load, exact_recall, largest_load_above, overlap
from ..rules import Rule, get_rule
from .common import compute_device, generator_for, run_stage, trainer_options

MODELS = {"hopfield": "pairwise", "dense": "slots"}  # model → the kind of stored tensor its rule must write
DYNAMICS = ("async", "sync", "one-step")
EXACT_RECALL_LEVEL = 0.99  # SCIENCE.md E1b: basin capacity is the largest P with ≥ 99% exact recall


@dataclass(frozen=True)
class Arm:
    """One curve family of the ladder: a model, the rule that writes it, its dynamics, and its (D, α) grid."""

    name: str
    model: str
    rule: Rule
    dynamics: str
    dims: list[int]
    loads: list[float]
    separation: Separation | None = None

    @property
    def mirror(self) -> bool:
        """Even powers also attract the mirror -ξ: score |overlap|."""
        sep = self.separation
        return isinstance(sep, Power) and sep.n % 2 == 0 and not sep.rectified


@dataclass(frozen=True)
class Settings:
    seed: int
    trials: int
    flip_fraction: float
    max_sweeps: int
    retrieval_overlap: float
    arms: list[Arm]
    trainer: dict = field(default_factory=dict)
    device: torch.device = torch.device("cpu")


def parse_separation(section: Params) -> Separation:
    kind = section.choice("kind", ["power", "exponential"])
    if kind == "power":
        n = section.raw("n")
        if isinstance(n, bool) or not isinstance(n, int) or n < 2:
            raise ConfigError(section.key("n"), "an integer power ≥ 2", n)
        return Power(n, rectified=bool(section.raw("rectified", False)))
    return Exponential(section.number("beta", lambda v: 0 < v < float("inf"), "a number in (0, ∞)"))


def parse_arm(name: str, section: Params) -> Arm:
    model = section.choice("model", list(MODELS))
    rule_name = section.string("rule")
    try:
        rule = get_rule(rule_name)
    except KeyError as err:
        raise ConfigError(section.key("rule"), str(err.args[0]).split(": ", 1)[1].split(", got")[0], rule_name) from err
    if rule.target != MODELS[model]:
        raise ConfigError(
            section.key("rule"),
            f"a rule that writes {MODELS[model]} for model '{model}' (rule '{rule_name}' writes {rule.target})",
            rule_name,
        )
    separation = parse_separation(section.section("separation")) if model == "dense" else None
    return Arm(
        name=name,
        model=model,
        rule=rule,
        dynamics=section.choice("dynamics", list(DYNAMICS)),
        dims=section.int_list("dims", minimum=2),
        loads=sorted(section.positive_list("loads")),
        separation=separation,
    )


def parse_settings(params: Params) -> Settings:
    """Validate the whole ``capacity`` section before any computation starts."""
    section = params.section("capacity")
    arms_section = section.section("arms")
    arms = [parse_arm(name, arms_section.section(name)) for name, _ in arms_section.items()]
    if not arms:
        raise ConfigError(section.key("arms"), "at least one arm")
    return Settings(
        seed=section.nonneg_int("seed"),
        trials=section.positive_int("trials"),
        flip_fraction=section.fraction("flip_fraction"),
        max_sweeps=section.positive_int("max_sweeps"),
        retrieval_overlap=section.number("retrieval_overlap", lambda v: 0 < v <= 1, "a number in (0, 1]"),
        arms=arms,
        trainer=trainer_options(params),
        device=compute_device(params),
    )


def probe_trial(arm: Arm, dim: int, count: int, trial: int, settings: Settings) -> dict[str, torch.Tensor]:
    """Store ``count`` random patterns once and probe each: per-pattern (count,) results."""
    generator = generator_for(settings.seed, arm.name, dim, count, trial)
    patterns = rademacher(count, dim, generator)
    memory = store(patterns, arm.rule, settings.trainer).memory(arm.separation).to(settings.device)
    patterns = patterns.to(settings.device)
    probes = flip_bits(patterns, settings.flip_fraction, generator)
    result = relax(memory, probes, mode=arm.dynamics, max_sweeps=settings.max_sweeps, generator=generator)
    final_overlap = overlap(result.states, patterns, mirror=arm.mirror)
    return {
        "fixed_point": (memory.step(patterns) == patterns).all(dim=1),
        "exact": exact_recall(result.states, patterns, mirror=arm.mirror),
        "retrieved": final_overlap >= settings.retrieval_overlap,
        "overlap": final_overlap,
    }


def measure_point(arm: Arm, dim: int, load: float, settings: Settings) -> dict:
    """All trials at one (arm, D, α): fractions over every probed pattern, and the spread across trials."""
    count = max(1, round(load * dim))
    trials = [probe_trial(arm, dim, count, trial, settings) for trial in range(settings.trials)]
    point = {"arm": arm.name, "D": dim, "load": load, "patterns": count}
    for key in ("fixed_point", "exact", "retrieved", "overlap"):
        per_trial = torch.stack([t[key].double().mean() for t in trials])
        point[key] = round(per_trial.mean().item(), 6)
        point[f"{key}_std"] = round(per_trial.std().item(), 6) if len(trials) > 1 else 0.0
    return point


def summarise(arm: Arm, points: list[dict]) -> dict:
    """Capacity estimates of one (arm, D) from its load curve."""
    loads = [p["load"] for p in points]

    def rounded(value):
        return None if value is None else round(value, 6)

    return {
        "critical_load": rounded(crossing_load(loads, [p["retrieved"] for p in points], 0.5)),
        "exact_capacity_load": rounded(largest_load_above(loads, [p["exact"] for p in points], EXACT_RECALL_LEVEL)),
        "fixed_point_capacity_load": rounded(largest_load_above(loads, [p["fixed_point"] for p in points], 1.0)),
    }


def run(settings: Settings) -> tuple[dict, list[dict]]:
    """Measure every arm: returns (summary, curves); summary[arm]["D<dim>"] holds the capacity estimates."""
    summary: dict = {}
    curves: list[dict] = []
    for arm in settings.arms:
        summary[arm.name] = {
            "model": arm.model,
            "rule": arm.rule.name,
            "locality": arm.rule.locality,
            "dynamics": arm.dynamics,
        }
        for dim in arm.dims:
            start = time.perf_counter()
            points = [
                measure_point(arm, dim, load, settings)
                for load in tqdm(arm.loads, desc=f"{arm.name} D={dim}", leave=False, disable=None)
            ]
            curves.extend(points)
            estimates = summarise(arm, points)
            summary[arm.name][f"D{dim}"] = estimates
            say(
                f"capacity {arm.name} D={dim}: critical load {estimates['critical_load']}, exact (≥99%) "
                f"{estimates['exact_capacity_load']}, fixed points {estimates['fixed_point_capacity_load']} "
                f"({time.perf_counter() - start:.1f} s)"
            )
    return summary, curves


def main(args) -> None:
    run_stage(args, "capacity", parse_settings, compute)


def compute(settings: Settings, params: Params, tracker) -> dict[str, object]:
    """The stage's output files: the capacity record (DVC metrics) and the load curves (DVC plots)."""
    summary, curves = run(settings)
    for point in curves:
        tracker.log({f"{point['arm']}/D{point['D']}/{k}": v for k, v in point.items() if isinstance(v, float)})
    record = {
        "profile": params.raw("profile", "unknown"),
        "flip_fraction": settings.flip_fraction,
        "trials": settings.trials,
        "arms": summary,
    }
    return {"capacity.json": record, "capacity_curves.json": curves}
