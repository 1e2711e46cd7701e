"""E8b: how many real images each learning rule fits into a memory of K hidden units.

The memory (bipartite, K hidden units, tied weights): keys (K, D) read the query, values (K, D) write the output,
out = Σ_μ w_μ v_μ with w = the normalised separation of the scaled overlaps s_μ = k_μ·σ / D — softmax(β D s) for the
exponential, relu(s)^{n-1} / Σ relu(s)^{n-1} for the rectified polynomial F = relu(x)ⁿ (its f = F', normalised).
Images live in the centred space c = 2x - 1 ∈ [-1, 1]: the ``grey`` version keeps the pixels in [0, 1] (c
continuous, the output a convex combination of the values), the ``binary`` version binarises them
(x > data.binarize_threshold → +1, else -1) and reads the output by its sign. ``steps`` recall steps feed the output
back as the next query. Every rule fills keys = values except pseudo-inverse slots (keys = the projection keys of
the K slots, values = the slots).

Rules (each the registry's rule, trained through ``lit.store`` without autograd, or backprop through
``BackpropModule``): ``slot`` (the first K stored images: the one-shot DAM), ``pseudo_inverse_slots`` (nonlocal),
``prototype`` (online winner-take-all Hebbian mean), ``krotov_hopfield`` (K&H 2019 competing hidden units; each unit
read at max |entry| 1, since their fixed point ‖W_μ‖_p = 1 sets only a direction) and ``backprop`` (the K units,
started from the slots, trained by Adam on the completion loss through the same recall, continuous: no sign).

Protocol (Millidge et al. 2022, as E3 ``retrieval``): the query is the image with its bottom half hidden (pixel 0,
i.e. c = -1); an image is recovered when Σ(x - out)² ≤ 50 · D / 784 in pixel units (Σ(c - out)² / 4; for the binary
version the number of wrong pixels). For each K the stored set is the first P training images, P on ``ratios`` × K
and always all training images; the fraction of stored images recovered and of the first ``held_out`` test images
recovered are measured at each P. P½(K): the P at which half the stored images are recovered (linear level
crossing, ``metrics.crossing``), its 95% interval from resampling ``blocks`` blocks of queries (index mod
blocks; the memory is trained once per P, so the interval covers the queries, not the training seed). A P½ outside
the grid is null with ``P_half_outside`` {side, load, fraction} (below_grid: fewer than half recovered at the
smallest P; above_grid: half or more at all training images).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import torch
from torch import Tensor

from .. import references as ref
from ..config import ConfigError, Params
from ..data.corrupt import bottom_half_mask
from ..data.prepare import load_processed
from ..dynamics import single_cpu_thread
from ..lit import PatternDataModule, fit, store
from ..lit.backprop import BackpropModule, MemoryMatrix
from ..logs import say
from ..memory import Exponential, Separation
from ..metrics import binarise, bootstrap_crossing, crossing, grid_estimate, loglog_slope
from ..rules import get_rule
from ..schema import (
    FRACTION,
    MAPPING,
    NONNEG_INT,
    POSITIVE_INT,
    POSITIVE_LIST,
    STRING,
    Check,
    Named,
    choice,
    int_list,
    optional,
    parse,
    setting,
)
from .arms import AdamOptions, WrittenOptions, checked_rule, options_of
from .common import (
    SEPARATION,
    Curves,
    binarize_threshold,
    compute_device,
    data_root,
    generator_for,
    run_stage,
    select,
    separation_at,
    trainer_options,
)

VERSIONS = ("grey", "binary")
BACKPROP = "backprop"  # trained by gradient descent (BackpropModule), not a registry rule
RULES = ("slot", "pseudo_inverse_slots", "prototype", "krotov_hopfield")  # the registry rules an arm may name
TRAINED = ("prototype", "krotov_hopfield")  # rules that take units and epochs


@dataclass(frozen=True, kw_only=True)
class Condition:
    """How the memory reads: the image version and the separation F (its β per raw overlap for the exponential)."""

    name: str
    version: str = setting(choice(*VERSIONS))
    separation: Separation = setting(SEPARATION)


def _option_kind(values: dict) -> tuple[str, tuple[type, ...]]:
    """The option schemas of an arm (hebbdam.experiments.arms): Adam's for backprop, epochs / batch for the trained
    rules, none for the one-shot writes."""
    rule = values["rule"]
    return f"rule '{rule}'", (AdamOptions,) if rule == BACKPROP else (WrittenOptions,) if rule in TRAINED else ()


CONDITION_NAMES = Check(
    "a non-empty list of condition names",
    lambda v: isinstance(v, list) and bool(v) and all(isinstance(x, str) for x in v),
    list,
)


@dataclass(frozen=True, kw_only=True)
class Arm:
    """A rule and the K it fills. ``hyper``: the rule's hyper-parameters; ``options``: epochs / batch_size
    (prototype, krotov_hopfield) or updates / lr / batch_size (backprop). ``conditions``: the conditions it is
    measured under (backprop is trained once per condition, through that condition's recall; absent: all)."""

    name: str
    rule: str = setting(choice(*RULES, BACKPROP))
    units: list[int] = setting(int_list(1), then=lambda v: sorted(set(v)))
    conditions: list[str] | None = setting(optional(CONDITION_NAMES), None)
    hyper: dict = setting(MAPPING, {})
    options: dict = options_of(_option_kind)

    def checked(self, section: Params) -> Arm:
        if self.rule != BACKPROP:
            checked_rule(section, self.rule, self.hyper, None, lambda: get_rule(self.rule, **self.rule_hyper(1)))
        return self

    @property
    def locality(self) -> str:
        return "nonlocal" if self.rule == BACKPROP else get_rule(self.rule, **self.rule_hyper(1)).locality

    def rule_hyper(self, units: int) -> dict:
        return {**self.hyper, "units": units} if self.rule in TRAINED else dict(self.hyper)

    def parameters(self, units: int, dim: int) -> int:
        """Parameters of the filled memory: K·D (tied keys = values); pseudo-inverse slots add the K² couplings
        (ΞΞᵀ)⁺ that turn the slots into their keys."""
        return units * dim + (units * units if self.rule == "pseudo_inverse_slots" else 0)


@dataclass(frozen=True, kw_only=True)
class Settings:
    seed: int = setting(NONNEG_INT)
    dataset: str = setting(STRING)
    data_root: str
    binarize_threshold: float
    ratios: list[float] = setting(POSITIVE_LIST, then=lambda v: sorted(set(v)))
    held_out: int = setting(POSITIVE_INT)
    steps: int = setting(POSITIVE_INT)
    level: float = setting(FRACTION)
    blocks: int = setting(POSITIVE_INT)
    bootstrap: int = setting(POSITIVE_INT)
    conditions: list[Condition] = setting(Named(Condition, "at least one condition"))
    arms: list[Arm] = setting(Named(Arm, "at least one arm"))
    trainer: dict
    device: torch.device = torch.device("cpu")

    def checked(self, section: Params) -> Settings:
        """Each arm's conditions name conditions of the section; an arm without its own list takes them all."""
        names = [c.name for c in self.conditions]
        arms = []
        for arm in self.arms:
            wanted = names if arm.conditions is None else arm.conditions
            if any(name not in names for name in wanted):
                key = section.key(f"arms.{arm.name}.conditions")
                raise ConfigError(key, "a non-empty list among " + ", ".join(names), wanted)
            arms.append(replace(arm, conditions=list(wanted)))
        return replace(self, arms=arms)


def parse_settings(params: Params, section_name: str = "budget.images") -> Settings:
    """The section (and data.root, data.binarize_threshold) read into :class:`Settings` before any computation."""
    return parse(
        Settings,
        params.section(section_name),
        data_root=data_root(params),
        binarize_threshold=binarize_threshold(params),
        trainer=trainer_options(params),
        device=compute_device(params),
    )


# the memory -------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Units:
    """A filled K-unit memory: keys (K, D) read the query, values (K, D) write the output."""

    keys: Tensor
    values: Tensor


def unit_weights(scores: Tensor, separation: Separation) -> Tensor:
    """(B, K) scaled overlaps s = k·σ / D → (B, K) hidden activities summing to 1 per row: softmax(β s) for the
    exponential (log-space, finite at any β), f(s) / Σ f(s) with f = F' for a power (all-zero rows stay zero)."""
    if isinstance(separation, Exponential):
        return torch.softmax(separation.beta * scores, dim=-1)
    activity = separation.derivative(scores)
    return activity / activity.sum(-1, keepdim=True).clamp_min(torch.finfo(activity.dtype).tiny)


def complete(units: Units, queries: Tensor, separation: Separation, steps: int, binary: bool) -> Tensor:
    """``steps`` recall steps σ ← Σ_μ w_μ(σ) v_μ (read by its sign when ``binary``): (B, D) → (B, D). Differentiable
    in the keys and values when ``binary`` is False (the backprop arm trains through it)."""
    dim = queries.shape[1]
    states = queries
    for _ in range(steps):
        states = unit_weights(states @ units.keys.T / dim, separation) @ units.values
        if binary:
            states = binarise(states)
    return states


def squared_error(outputs: Tensor, targets: Tensor) -> Tensor:
    """(B,) Σ(x - out)² in pixel units, for centred rows c = 2x - 1: Σ(c - out)² / 4."""
    return (outputs - targets).square().sum(-1) / 4


def error_threshold(dim: int) -> float:
    """Σ(x - out)² that still counts as recovered: 50 at D = 784 (Millidge et al.), scaled by D / 784."""
    return ref.UHN_ERROR_THRESHOLD.value * dim / ref.UHN_ERROR_THRESHOLD_DIM


class Completion:
    """Backprop objective: hide the ``hidden`` pixels of each clean centred image (c = -1), run the memory's
    recall (continuous), loss = mean Σ(x - out)² (the quantity the recovery threshold applies to)."""

    name = "completion"

    def __init__(self, hidden: Tensor, separation: Separation, steps: int):
        self.hidden, self.separation, self.steps = hidden, separation, steps

    def loss(self, memory: MemoryMatrix, batch: tuple[Tensor, ...], generator: torch.Generator) -> tuple[Tensor, dict]:
        clean = batch[0]
        queries = clean.masked_fill(self.hidden.to(clean.device), -1.0)
        units = Units(memory.memories, memory.memories)
        out = complete(units, queries, self.separation, self.steps, binary=False)
        return squared_error(out, clean).mean(), {}


# filling the units ------------------------------------------------------------------------------------------------
def fill(arm: Arm, units: int, stored: Tensor, condition: Condition, hidden: Tensor, seed: int, settings) -> Units:
    """The K units of ``arm`` filled from ``stored`` (P, D) centred images."""
    if arm.rule == BACKPROP:
        return train_backprop(arm, units, stored, condition, hidden, seed, settings)
    rule = get_rule(arm.rule, **arm.rule_hyper(units))
    written = stored[:units] if rule.target == "slots" else stored
    epochs, batch = int(arm.options.get("epochs", 1)), int(arm.options.get("batch_size", 1024))
    state = store(written, rule, settings.trainer, batch_size=batch, seed=seed, max_epochs=epochs, logger=False)
    state = state.stored.detach().cpu()
    if arm.rule == "pseudo_inverse_slots":
        return Units(state, written)
    if arm.rule == "krotov_hopfield":
        state = state / state.abs().amax(1, keepdim=True).clamp_min(1e-30)
    return Units(state, state)


def train_backprop(arm: Arm, units: int, stored: Tensor, condition: Condition, hidden: Tensor, seed: int, settings):
    """K units started from the first K stored images (cycled when P < K), trained by Adam on :class:`Completion`."""
    dim = stored.shape[1]
    separation = separation_at(condition.separation, dim)
    trainable = MemoryMatrix(units, dim, separation, init_std=0.0, seed=seed)
    with torch.no_grad():
        trainable.memories.copy_(stored[torch.arange(units) % stored.shape[0]])
    module = BackpropModule(trainable, Completion(hidden, separation, settings.steps), lr=arm.options.get("lr", 0.01))
    batch = int(arm.options.get("batch_size", 64))
    updates = int(arm.options.get("updates", 200))
    epochs = math.ceil(updates / math.ceil(stored.shape[0] / batch))
    data = PatternDataModule(stored, batch, shuffle=True, seed=seed)
    fit(module, data, settings.trainer, max_epochs=epochs, max_steps=updates, logger=False)
    memories = trainable.memories.detach().cpu()
    return Units(memories, memories)


# measuring --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Images:
    """Centred images of one version: the training images (stored in order) and the held-out test images."""

    train: Tensor  # (N, D)
    held_out: Tensor  # (H, D)
    hidden: Tensor  # (D,) bool: the pixels a query hides


def grayscale(images: Tensor, channels: int) -> Tensor:
    """(N, C·H·W) rows in (C, H, W) order → (N, H·W), the mean over the C channels (CIFAR-10 → grayscale)."""
    return images.reshape(images.shape[0], channels, -1).mean(1)


def load_images(settings: Settings) -> tuple[dict[str, Images], int]:
    """{version: Images} and D; colour images are made grayscale (D = H·W)."""
    data = load_processed(settings.dataset, settings.data_root)
    channels, height, width = (int(s) for s in data["image_shape"].tolist())
    train, test = (grayscale(data[key].float(), channels) for key in ("x_train", "x_test"))
    shape = (1, height, width)
    if settings.held_out > test.shape[0]:
        raise ConfigError("budget.images.held_out", f"at most {test.shape[0]} (the test images)", settings.held_out)
    hidden = bottom_half_mask(1, shape)[0]
    out = {}
    for version in VERSIONS:
        if version == "grey":
            centred = (2 * train - 1, 2 * test[: settings.held_out] - 1)
        else:
            centred = tuple(binarise(x, settings.binarize_threshold, ties=-1.0) for x in (train, test))
            centred = (centred[0], centred[1][: settings.held_out])
        out[version] = Images(centred[0], centred[1], hidden)
    return out, train.shape[1]


def mean_image_floor(images: Images, threshold: float, binary: bool) -> float:
    """Fraction of held-out images within the threshold of the mean training image (its sign when ``binary``): what
    a memory that outputs only the average would score, the floor under which the threshold says nothing."""
    mean = images.train.mean(0, keepdim=True)
    mean = binarise(mean) if binary else mean
    return round(float((squared_error(mean, images.held_out) <= threshold).double().mean()), 6)


def stored_grid(units: int, total: int, ratios: list[float]) -> list[int]:
    """P = ratio·K (rounded, at least 1) below the number of training images, then all of them."""
    return sorted({max(1, round(r * units)) for r in ratios if r * units < total} | {total})


def recovered(units: Units, images: Tensor, hidden: Tensor, condition: Condition, steps: int) -> Tensor:
    """(B,) bool: each image recovered from its half-masked query."""
    dim = images.shape[1]
    queries = images.masked_fill(hidden, -1.0)
    with torch.no_grad():
        out = complete(units, queries, separation_at(condition.separation, dim), steps, condition.version == "binary")
    return squared_error(out, images) <= error_threshold(dim)


def measure(arm: Arm, units: int, conditions: list[Condition], images: dict[str, Images], settings) -> list[dict]:
    """The curves of one (arm, K) under each condition: fractions of stored and held-out images recovered at each P,
    with the stored fraction per block of queries (for the bootstrap). A registry rule fills the units once per
    image version and P (the conditions of a version share them); backprop trains once per condition."""
    points = []
    total = images[conditions[0].version].train.shape[0]
    grid = stored_grid(units, total, settings.ratios)
    blocks = min(settings.blocks, grid[0])
    for count in grid:
        seed = int(torch.randint(2**31 - 1, (1,), generator=generator_for(settings.seed, arm.name, units, count)))
        filled: dict[str, Units] = {}
        for condition in conditions:
            pool = images[condition.version]
            stored = pool.train[:count]
            key = condition.name if arm.rule == BACKPROP else condition.version
            if key not in filled:
                filled[key] = fill(arm, units, stored, condition, pool.hidden, seed, settings)
            memory = filled[key]
            on = settings.device  # recall runs where the trainer runs (the units are filled on the CPU or by Lightning)
            memory = Units(memory.keys.to(on), memory.values.to(on))
            hits = recovered(memory, stored.to(on), pool.hidden.to(on), condition, settings.steps).double().cpu()
            held = recovered(memory, pool.held_out.to(on), pool.hidden.to(on), condition, settings.steps).double().cpu()
            per_block = [float(hits[b::blocks].mean()) for b in range(blocks)]
            points.append(
                {
                    "arm": arm.name,
                    "condition": condition.name,
                    "K": units,
                    "P": count,
                    "stored": round(float(hits.mean()), 6),
                    "held_out": round(float(held.mean()), 6),
                    "stored_blocks": [round(v, 6) for v in per_block],
                }
            )
    return points


def half_point(points: list[dict], level: float, samples: int, generator: torch.Generator) -> dict:
    """P½ (``metrics.crossing``, linear in P as its bootstrap) with its interval; a null P½ comes with
    ``P_half_outside`` (side, load = the grid's edge P, fraction there) from ``metrics.grid_estimate``."""
    counts = [p["P"] for p in points]
    fractions = [p["stored"] for p in points]
    low, high = bootstrap_crossing(counts, [p["stored_blocks"] for p in points], level, samples, generator)
    return {
        **grid_estimate("P_half", crossing(counts, fractions, level), counts, fractions, level),
        "P_half_low": None if low is None else round(low, 6),
        "P_half_high": None if high is None else round(high, 6),
    }


def slope(entries: dict) -> float | None:
    """Least-squares slope of log P½ against log K over the K with a measured P½ (None with fewer than two)."""
    measured = [(e["K"], e["P_half"]) for e in entries.values() if e["P_half"] is not None]
    if len(measured) < 2:
        return None
    return round(loglog_slope([k for k, _ in measured], [p for _, p in measured]), 6)


def run(settings: Settings, images: dict[str, Images], dim: int) -> tuple[dict, list[dict]]:
    """Every arm, condition and K: (record arms, curve points)."""
    conditions = {c.name: c for c in settings.conditions}
    arms: dict = {}
    curves: list[dict] = []
    for arm in settings.arms:
        entry = {"rule": arm.rule, "locality": arm.locality, "units": arm.units, "conditions": {}}
        if arm.rule == BACKPROP:
            entry["updates"] = int(arm.options.get("updates", 200))
        per_condition: dict[str, dict] = {name: {} for name in arm.conditions}
        for units in arm.units:
            start = time.perf_counter()
            points = measure(arm, units, [conditions[name] for name in arm.conditions], images, settings)
            curves.extend(points)
            for name in arm.conditions:
                curve = [p for p in points if p["condition"] == name]
                generator = generator_for(settings.seed, arm.name, name, units, "bootstrap")
                result = {"K": units, "parameters": arm.parameters(units, dim)}
                result.update(half_point(curve, settings.level, settings.bootstrap, generator))
                result["held_out_at_all"] = curve[-1]["held_out"]
                per_condition[name][f"K{units}"] = result
            halves = ", ".join(f"{name} {per_condition[name][f'K{units}']['P_half']}" for name in arm.conditions)
            say(f"budget images {arm.name} K={units}: P½ {halves} ({time.perf_counter() - start:.1f} s)")
        entry["conditions"] = {name: {"slope": slope(per_k), **per_k} for name, per_k in per_condition.items()}
        arms[arm.name] = entry
    return arms, curves


def describe(condition: Condition) -> dict:
    separation = condition.separation
    if isinstance(separation, Exponential):
        return {"version": condition.version, "separation": "exponential", "beta": separation.beta}
    return {"version": condition.version, "separation": separation.name}


def compute(settings: Settings, params: Params, tracker) -> dict[str, object]:
    """The record and the recovery curves against P."""
    images, dim = load_images(settings)
    with single_cpu_thread(settings.device):
        arms, curves = run(settings, images, dim)
    record = {
        "profile": params.raw("profile", "unknown"),
        "dataset": settings.dataset,
        "dim": dim,
        "threshold": round(error_threshold(dim), 6),
        "held_out": settings.held_out,
        "steps": settings.steps,
        "level": settings.level,
        "conditions": {c.name: describe(c) for c in settings.conditions},
        "mean_image_floor": {
            version: mean_image_floor(entry, error_threshold(dim), version == "binary")
            for version, entry in images.items()
            if any(c.version == version for c in settings.conditions)
        },
        "arms": arms,
    }
    return {"budget_images.json": record, "budget_images_curves.json": curves}


def main(args) -> None:
    """``hebbdam budget_images``: E8b (params ``budget.images``) → budget_images.json and its curves."""
    run_stage(
        args,
        "budget.images",
        parse_settings,
        compute,
        record_name="budget_images",
        headline=lambda record: select(record, "arms.*.conditions.*.K*.P_half"),
        curves=(
            Curves("budget_images_curves.json", x="P", y=("stored", "held_out"), series=("arm", "condition", "K")),
        ),
    )
