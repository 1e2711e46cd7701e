"""E8b: how many real images each learning rule stores in a memory of K hidden units, scored on the images it was
asked to store.

The memory (bipartite, K hidden units, tied weights): keys (K, D) read the query, values (K, D) write the output,
out = Σ_μ w_μ v_μ with w = the normalised separation of the scaled overlaps s_μ = k_μ·σ / D — softmax(β D s) for the
exponential, relu(s)^{n-1} / Σ relu(s)^{n-1} for the rectified polynomial F = relu(x)ⁿ (its f = F', normalised).
Images live in the centred space c = 2x - 1 ∈ [-1, 1]: the ``grey`` version keeps the pixels in [0, 1] (c
continuous, the output a convex combination of the values), the ``binary`` version binarises them
(x > data.binarize_threshold → +1, else -1) and reads the output by its sign. ``steps`` recall steps feed the output
back as the next query. Every rule fills keys = values except pseudo-inverse slots (keys = the projection keys of
the K slots, values = the slots).

Rules (each the registry's rule, trained through ``lit.store`` without autograd, or backprop through
``BackpropModule``): ``slot`` (a K-slot memory is full after K images: of the P images presented it keeps the first K),
``pseudo_inverse_slots`` (the same K slots, nonlocal keys), ``prototype`` (online winner-take-all Hebbian mean),
``krotov_hopfield`` (K&H 2019 competing hidden units; each unit read at max |entry| 1, since their fixed point ‖W_μ‖_p =
1 sets only a direction) and ``backprop`` (the K units trained by Adam on the completion loss of the P stored images
through the same recall, continuous: no sign); ``bcpnn_hidden`` (K Bayesian-Hebbian hidden units,
``rules.bayesian_hidden``, learned without labels on the P stored images: weights log(p_ij/(p_i p_j)), soft
winner-take-all in H hypercolumns, full-batch traces; each unit then read as a DAM unit whose key = value is the image
it stands for, 2 p(x = 1 | j) − 1 from its traces: K·D parameters, the same recall as every arm; local as the registry's
``bcpnn``); and ``willshaw``, the sparse race's best local rule (one step: Willshaw above the covariance rule in bits
per synapse), a pairwise memory of the binarised images (0/1, coding ~0.13 on mnist5k) with D² clipped synapses and no
hidden units: its K only anchors its P grid, it reads the cue's active pixels (so both masking conventions give it the
same cue) and it is a separate named row, never compared at equal K (``budget`` "pairwise" in the record); ``bcpnn``
the same for the recurrent Bayesian-Hebbian memory of the binarised images' modular code (a hypercolumn of two units,
on and off, per pixel: (2D)² weights and 2D biases, one winner per pixel; a hidden pixel at 0 is no input, at the
background value it is "off"; :class:`Modular`). An arm's
``ratios_below`` adds P below the section's grid for that arm. Backprop here is memorisation: the stored set is the
training set and the set it is scored on. Each backprop fit runs until its training loss reaches a plateau
(``lit.backprop.Plateau`` per epoch: no relative fall of ``tolerance`` over ``patience`` updates, or the loss at most
``floor``) or ``cap`` updates, the lr multiplied by ``anneal`` after every epoch (:data:`CHECK_EVERY` full-batch
updates: at a constant lr, Adam through the sharp softmax creeps and spikes instead of settling); the learning rates
``lrs`` (a condition's own in ``condition_lrs``) are swept from the first of ``inits`` (the slots) at the first seed and
the smallest P above K, and when the chosen lr is the smallest or largest tried, the sweep goes one lr further that way
(same factor, at most twice: ``common.extended_sweep``; ``lrs_tried`` and ``lr_at_edge`` recorded); every other init
(random) is then tried at the lr chosen there, and the fit with the lowest final training loss is kept (its lr and init
then serve every other P and seed). A fit whose weights turn non-finite (``errors.DivergedError``) is a failed
candidate: ranked last, its start kept, ``diverged`` recorded. The trained units are kept only where they recover more
of the stored set than the units they started from (``kept``: "trained" / "start"; the stored set is the test set, so
this too is memorisation). Independent fits run in parallel processes (``parallel.map_fits``: the record is the same for
any worker count). The record stores each fit's updates, lr, init, ``kept``, ``converged`` (False when the cap came
first) and ``stalled`` (flat at its first epoch's loss: the optimiser never moved it; not converged either).

Protocol (Millidge et al. 2022, as E3 ``retrieval``): the query is the image with its bottom half hidden, the hidden
pixels set by each ``masking`` convention: ``background`` (c = -1, the background value: pixel 0 in grey, -1 in the ±1
coding) or ``zero`` (c = 0: no input in the ±1 coding). For each training seed the stored set is the first P images of
a seeded permutation of the training images, P on ``ratios`` × K, then, one ratio of ``ratios_beyond`` at a time, the
larger P only for the rows (arm, condition, masking, K) that still recover at least 0.9 of the stored set at their
largest P (so that no P_0.9 stays censored above the grid, and no other row pays for it); every one of the P is
presented to the rule. Stored-set score: the fraction of the P stored images recovered, an image counting when the
output is within Σ(x - out)² ≤ 50 · D / 784 of it (pixel units: Σ(c - out)² / 4, the number of wrong pixels for the
binary version) and no other stored image is nearer to the output: a retrieved neighbour that happens to lie within the
threshold does not recall an image that was never written, so a memory that keeps K of P scores K/P (the keep-K curve
min(1, K/P)). The threshold-only fraction is kept as ``stored_within_threshold``; held-out completion (test images,
threshold only) is its own column, never mixed in. Capacity per (arm, condition, masking, K): P_0.9 and P_0.99 (P at
which that fraction of the stored set is recovered, ``metrics.crossing`` on the mean over seeds), P_half (level 0.5,
secondary: it credits a forgetting memory with 2K) and max_recalled = max_P P·f(P); 95% intervals resample the training
seeds (``metrics.bootstrap_crossing``). An estimate outside the P grid is null with ``<key>_outside``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import Tensor

from .. import references as ref
from ..config import ConfigError, Params
from ..data.corrupt import bottom_half_mask
from ..data.prepare import load_processed
from ..dynamics import iterate, single_cpu_thread
from ..errors import DivergedError
from ..lit import store
from ..lit.backprop import BackpropModule, MemoryMatrix, fit_until_plateau
from ..logs import say
from ..memory import Exponential, Separation
from ..memory.core import unit_read
from ..memory.sparse import BCPNN, Willshaw, bcpnn_parameters
from ..metrics import binarise, bootstrap_crossing, crossing, grid_estimate, loglog_slope
from ..parallel import map_fits
from ..rules import get_rule
from ..rules.bayesian_hidden import Traces, learn_bayesian_traces
from ..rules.hidden import max_scaled
from ..settings import budget_images as schema
from ..settings.budget_classify import BayesianLayer
from ..settings.budget_images import (
    BACKPROP,
    BACKPROP_DEFAULTS,  # noqa: F401  (re-exported: the stage reads as before)
    BCPNN_HIDDEN,
    MASKING,
    MODULAR,
    PAIRWISE,
    VERSIONS,
    Arm,
    Condition,
    Settings,
)
from ..settings.catalogue import has_normed_units, is_keyed
from .common import (
    Curves,
    built,
    compute_device,
    extended_sweep,
    generator_for,
    run_stage,
    select,
    separation_at,
)

CHECK_EVERY = 20  # backprop updates per epoch, the plateau's check (small stored sets are repeated to fill it)
RANDOM_INIT_STD = 0.5  # σ of the random start, in centred pixel units
LEVELS = {"P_0.9": 0.9, "P_0.99": 0.99, "P_half": 0.5}  # record key → fraction of the stored set recovered
PRIMARY = "P_0.9"  # the level the verdict reads (P_half is secondary: it rewards forgetting)
LAYER_KEYS = ("epochs", "rate", "gain", "floor", "noise", "connectivity")  # BCPNN options the hidden layer reads
DIVERGED_LOSS = 1e30  # the training loss a diverged fit is ranked by (finite: records hold no inf)


# the memory -------------------------------------------------------------------------------------------------------
def parse_settings(params: Params, section_name: str = "budget.images") -> Settings:
    """The settings of :mod:`hebbdam.settings.budget_images`, checked whole before any work, with their rules and
    separations built and this machine's device."""
    return built(schema.parse_settings(params, section_name, device=compute_device(params)))


@dataclass(frozen=True)
class Units:
    """A filled K-unit memory: keys (K, D) read the query, values (K, D) write the output."""

    keys: Tensor
    values: Tensor


@dataclass(frozen=True)
class Clipped:
    """A pairwise memory of the binarised images (Willshaw's clipped weights (D, D) ∈ {0, 1}): no hidden units. It
    reads 0/1 activity, the active pixels of a centred query (c > 0): a hidden pixel is inactive under either masking
    convention (c = -1 or 0), so both conventions give it the same cue."""

    weights: Tensor

    def complete(self, queries: Tensor, steps: int) -> Tensor:
        """``steps`` Willshaw read-outs from the cue's active pixels (``dynamics.iterate``): (B, D) centred → (B, D)
        ±1."""
        states = iterate(Willshaw(self.weights).step, (queries > 0).to(torch.float64), steps)
        return (2 * states - 1).to(queries.dtype)


@dataclass(frozen=True)
class Modular:
    """A recurrent BCPNN memory of the binarised images' modular code (``memory.sparse.BCPNN``: one hypercolumn of
    two units, on and off, per pixel; (2D)² weights log(p_ij/(p_i p_j)) and 2D biases log p_j): no hidden units. A
    centred cue c enters as the unit activities (max(c, 0), max(-c, 0)): a shown pixel as one unit on, a hidden one
    at 0 (no input) as neither (its hypercolumn adds nothing to any support: no evidence either way), at the
    background value (c = -1) as off."""

    memory: BCPNN

    def complete(self, queries: Tensor, steps: int) -> Tensor:
        """``steps`` − 1 soft winner-take-all steps from the cue's code (``dynamics.iterate``), then the winning unit
        of each pixel's hypercolumn: (B, D) centred → (B, D) ±1 (one step: the winner of the cue's own support)."""
        code = modular_code(queries.to(torch.float64))
        states = iterate(self.memory.step, code, steps - 1) if steps > 1 else code
        winners = self.memory.winners(states).view(queries.shape[0], -1, 2)
        return (winners[..., 0] - winners[..., 1]).to(queries.dtype)


def modular_code(centred: Tensor) -> Tensor:
    """(B, D) centred pixels c ∈ [-1, 1] → (B, 2D) activities of each pixel's (on, off) units, (max(c, 0),
    max(-c, 0)): ±1 pixels one-hot, c = 0 no activity."""
    return torch.stack([centred.clamp(min=0), (-centred).clamp(min=0)], dim=-1).flatten(1)


Filled = Units | Clipped | Modular  # a filled memory: K hidden units, or a pairwise memory with no units


def complete(units: Filled, queries: Tensor, separation: Separation, steps: int, binary: bool) -> Tensor:
    """``steps`` recall steps σ ← Σ_μ w_μ(σ) v_μ (``memory.core.unit_read``, read by its sign when ``binary``,
    iterated by ``dynamics.iterate``): (B, D) → (B, D). Differentiable in the keys and values when ``binary`` is
    False (the backprop arm trains through it). A pairwise memory (:class:`Clipped`, :class:`Modular`) reads by its
    own step (no separation)."""
    if isinstance(units, Clipped | Modular):
        return units.complete(queries, steps)

    def step(states: Tensor) -> Tensor:
        out = unit_read(states, units.keys, units.values, separation)
        return binarise(out) if binary else out

    return iterate(step, queries, steps)


def squared_error(outputs: Tensor, targets: Tensor) -> Tensor:
    """(B,) Σ(x - out)² in pixel units, for centred rows c = 2x - 1: Σ(c - out)² / 4."""
    return (outputs - targets).square().sum(-1) / 4


def error_threshold(dim: int) -> float:
    """Σ(x - out)² that still counts as recovered: 50 at D = 784 (Millidge et al.), scaled by D / 784."""
    return ref.UHN_ERROR_THRESHOLD.value * dim / ref.UHN_ERROR_THRESHOLD_DIM


def masked(images: Tensor, hidden: Tensor, masking: str) -> Tensor:
    """(B, D) centred images with the ``hidden`` (D,) pixels set to the convention's value (:data:`MASKING`)."""
    return images.masked_fill(hidden.to(images.device), MASKING[masking])


class Completion:
    """Backprop objective: hide the ``hidden`` pixels of each clean centred image (``masking``), run the memory's
    recall (continuous), loss = mean Σ(x - out)² (the quantity the recovery threshold applies to)."""

    name = "completion"

    def __init__(self, hidden: Tensor, separation: Separation, steps: int, masking: str = "background"):
        self.hidden, self.separation, self.steps, self.masking = hidden, separation, steps, masking

    def loss(self, memory: MemoryMatrix, batch: tuple[Tensor, ...], generator: torch.Generator) -> tuple[Tensor, dict]:
        clean = batch[0]
        units = Units(memory.memories, memory.memories)
        out = complete(units, masked(clean, self.hidden, self.masking), self.separation, self.steps, binary=False)
        return squared_error(out, clean).mean(), {}


# filling the units ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Task:
    """What one fill answers: the stored images (P, D) of a seed, the condition, the masking and the hidden pixels."""

    stored: Tensor
    condition: Condition
    masking: str
    hidden: Tensor


def fill(arm: Arm, units: int, task: Task, seed: int, settings) -> Filled:
    """The K units of a registry rule filled from the P stored images, every one of them presented: a K-slot write
    keeps the first K (the memory is full), the trained rules see all P; the BCPNN hidden units
    (:func:`bayesian_units`); a pairwise rule's memory of the binarised images (no units: Willshaw's (D, D) clipped
    weights, BCPNN's on the modular code)."""
    if arm.rule == BCPNN_HIDDEN:
        return bayesian_units(task.stored, units, arm.options, seed)
    rule = get_rule(arm.rule, **arm.rule_hyper(units))
    if arm.rule in PAIRWISE:
        modular = arm.rule in MODULAR
        code = modular_code(task.stored) if modular else (task.stored > 0).to(torch.float32)  # 0/1 codes
        written = store(code, rule, settings.trainer, seed=seed, max_epochs=1, logger=False).stored.detach().cpu()
        if not modular:
            return Clipped(written)
        weights, bias = bcpnn_parameters(written, float(arm.options["floor"]))
        return Modular(BCPNN(weights, bias, hypercolumns=task.stored.shape[1], gain=float(arm.options["gain"])))
    written = task.stored[:units] if rule.target == "slots" else task.stored
    epochs, batch = int(arm.options.get("epochs", 1)), int(arm.options.get("batch_size", 1024))
    module = store(written, rule, settings.trainer, batch_size=batch, seed=seed, max_epochs=epochs, logger=False)
    state = module.stored.detach().cpu()
    if is_keyed(arm.rule):  # keys = the K images written, values = the state
        return Units(state, written)
    if has_normed_units(arm.rule):
        state = max_scaled(state)
    return Units(state, state)


def bayesian_traces(stored: Tensor, units: int, options: dict, seed: int) -> Traces:
    """The traces of K BCPNN hidden units learned without labels from the (P, D) centred stored images, as pixels
    x = (c + 1)/2 ∈ [0, 1] (``rules.bayesian_hidden``: weights log(p_ij/(p_i p_j)), soft winner-take-all per
    hypercolumn)."""
    layer = BayesianLayer(
        minicolumns=units // int(options["hypercolumns"]),
        **{key: options[key] for key in LAYER_KEYS},
    )
    generator = torch.Generator().manual_seed(seed)
    pixels = (stored.double() + 1) / 2
    return learn_bayesian_traces(pixels, units, layer, int(options["batch_size"]), generator)


def bayesian_units(stored: Tensor, units: int, options: dict, seed: int) -> Units:
    """K BCPNN hidden units as DAM units: keys = values = the centred image each unit stands for, 2 p(x = 1 | j) − 1
    from its traces (:meth:`Traces.conditional_means`; K·D parameters, tied as the other arms), read by the same
    recall as every arm."""
    traces = bayesian_traces(stored, units, options, seed)
    means = (2 * traces.conditional_means() - 1).to(stored.dtype)
    return Units(means, means)


def train_backprop(arm: Arm, units: int, task: Task, seed: int, lr: float, init: str, settings) -> Fitted:
    """K units started from the slots (the first K stored images, cycled when P < K) or at random, trained by Adam on
    :class:`Completion` of the stored images until the plateau or the cap (``lit.backprop.fit_until_plateau``):
    the trained units, the start they came from and the fit's {updates, epochs, converged, stalled, loss, lr, init}."""
    stored, options = task.stored, arm.options
    dim = stored.shape[1]
    separation = separation_at(task.condition.separation, dim)
    trainable = MemoryMatrix(units, dim, separation, init_std=RANDOM_INIT_STD, seed=seed)
    if init == "slots":
        with torch.no_grad():
            trainable.memories.copy_(stored[torch.arange(units) % stored.shape[0]])
    start = trainable.memories.detach().clone()
    objective = Completion(task.hidden, separation, settings.steps, task.masking)
    module = BackpropModule(trainable, objective, lr=lr, anneal=float(options["anneal"]), seed=seed)
    batch = min(int(options["batch_size"]), stored.shape[0])
    try:
        fitted = fit_until_plateau(
            module,
            stored,
            batch,
            int(options["cap"]),
            int(options["patience"]),
            options["tolerance"],
            settings.trainer,
            floor=options["floor"],
            updates_per_epoch=CHECK_EVERY,
        )
    except DivergedError:  # a failed candidate of the sweep (ranked last), never a stopped stage: its start stands
        failed = {"updates": 0, "converged": False, "stalled": False, "loss": DIVERGED_LOSS, "lr": lr, "init": init,
                  "diverged": True}  # fmt: skip
        return Fitted(Units(start, start), Units(start, start), failed)
    memories = trainable.memories.detach().cpu()
    fitted = {**fitted, "loss": round(float(fitted["loss"]), 6), "lr": lr, "init": init}
    return Fitted(Units(memories, memories), Units(start, start), fitted)


@dataclass(frozen=True)
class Fitted:
    """One backprop fit: the trained units, the units it started from, and its record."""

    trained: Units
    start: Units
    fit: dict


@dataclass(frozen=True)
class FitItem:
    """One independent backprop fit (picklable: it runs in a worker process of ``parallel.map_fits``)."""

    arm: Arm
    units: int
    task: Task
    seed: int
    lr: float
    init: str
    settings: Settings


def run_fit(item: FitItem) -> Fitted:
    """:func:`train_backprop` of one item (``parallel.map_fits``'s function: module level, one torch thread)."""
    return train_backprop(item.arm, item.units, item.task, item.seed, item.lr, item.init, item.settings)


def sweep_backprop(arm: Arm, units: int, task: Task, seed: int, settings) -> Fitted:
    """The condition's lrs (:meth:`Arm.lrs_for`) from the first init, in parallel (the stored set is the training set:
    the lowest final training loss is kept, ties to the earlier), extended while the chosen lr is the sweep's smallest
    or largest by one more lr past that edge (``common.extended_sweep``, at most ``LR_EXTENSIONS``); then every other
    init at the lr chosen there, the lowest loss kept again. The kept fit with ``swept`` (lr, init, loss, updates,
    converged, stalled of every try), ``lrs_tried`` and ``lr_at_edge`` (of the first init's sweep)."""
    first, *others = arm.options["inits"]

    def train(lrs: list[float], inits: list[str]) -> list[Fitted]:
        return map_fits(run_fit, [FitItem(arm, units, task, seed, lr, init, settings) for init in inits for lr in lrs])

    def best(tried: list[Fitted]) -> int:
        return min(range(len(tried)), key=lambda i: tried[i].fit["loss"])

    lrs = arm.lrs_for(task.condition.name)
    tried, index, edge = extended_sweep(lrs, lambda chosen: train(chosen, [first]), best, lambda f: f.fit["lr"])
    if others:
        tried = [*tried, *train([tried[index].fit["lr"]], others)]
        index = best(tried)
    swept = [{key: f.fit[key] for key in ("lr", "init", "loss", "updates", "converged", "stalled")} for f in tried]
    kept = tried[index]
    return Fitted(kept.trained, kept.start, {**kept.fit, "swept": swept, **edge})


# measuring --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Images:
    """Centred images of one version: the training images (the pool the stored sets are drawn from) and the held-out
    test images."""

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
            centred: tuple[Tensor, ...] = (2 * train - 1, 2 * test[: settings.held_out] - 1)
        else:
            centred = tuple(binarise(x, settings.binarize_threshold, ties=-1.0) for x in (train, test))
            centred = (centred[0], centred[1][: settings.held_out])
        out[version] = Images(centred[0], centred[1], hidden)
    return out, train.shape[1]


def mean_image_floor(images: Images, threshold: float, binary: bool) -> dict:
    """What a memory that outputs only the mean training image (its sign when ``binary``) scores: the fraction of
    held-out and of training images within the threshold of it (threshold only; under the stored-set criterion it
    recalls at most the one image it is nearest to)."""
    mean = images.train.mean(0, keepdim=True)
    mean = binarise(mean) if binary else mean
    return shares_within(images, threshold, lambda rows: mean)


def blank_cue_floor(images: Images, threshold: float) -> dict:
    """What a memory with no parameters scores by returning its query with the hidden pixels at the background value
    (c = -1: the shown half, the hidden half blank): the fraction of held-out and of training images within the
    threshold of it (an image with little ink in its hidden half passes; the held-out column's trivial floor)."""
    return shares_within(images, threshold, lambda rows: masked(rows, images.hidden, "background"))


def shares_within(images: Images, threshold: float, output) -> dict:
    """The fraction of held-out and of training images (N, D) within the threshold of ``output(rows)`` ((N, D) or a
    (1, D) row for all): a parameter-free memory's score under the held-out criterion."""
    return {
        name: round(float((squared_error(output(rows), rows) <= threshold).double().mean()), 6)
        for name, rows in (("held_out", images.held_out), ("train", images.train))
    }


def stored_grid(units: int, total: int, ratios: list[float]) -> list[int]:
    """P = ratio·K (rounded, at least 1), at most the number of training images."""
    return sorted({min(total, max(1, round(r * units))) for r in ratios})


def recall_errors(memory: Filled, queries: Tensor, targets: Tensor, condition: Condition, steps: int) -> Tensor:
    """(B, T) Σ(x - out)² (pixel units) from each query's output to every target row."""
    dim = queries.shape[1]
    with torch.no_grad():
        out = complete(memory, queries, separation_at(condition.separation, dim), steps, condition.version == "binary")
        return torch.cdist(out.double(), targets.double()).square() / 4


CHUNK = 512  # queries per block of the (B, P) distance table


def stored_recovered(memory: Filled, task: Task, steps: int) -> tuple[Tensor, Tensor]:
    """(P,) bool twice for the stored images: recovered (within the threshold of its own image and no other stored
    image nearer the output) and within the threshold only."""
    stored = task.stored
    threshold = error_threshold(stored.shape[1])
    recovered, within = [], []
    for begin in range(0, stored.shape[0], CHUNK):
        rows = torch.arange(begin, min(begin + CHUNK, stored.shape[0]))
        errors = recall_errors(memory, masked(stored[rows], task.hidden, task.masking), stored, task.condition, steps)
        own = errors[torch.arange(rows.numel()), rows]
        near = own <= threshold
        within.append(near)
        recovered.append(near & (errors.min(1).values >= own))
    return torch.cat(recovered), torch.cat(within)


def held_out_recovered(memory: Filled, held_out: Tensor, task: Task, steps: int) -> Tensor:
    """(H,) bool: each held-out image within the threshold of its completion (threshold only: nothing was stored)."""
    queries = masked(held_out, task.hidden, task.masking)
    with torch.no_grad():
        dim = held_out.shape[1]
        out = complete(
            memory, queries, separation_at(task.condition.separation, dim), steps, task.condition.version == "binary"
        )
    return squared_error(out.double(), held_out.double()) <= error_threshold(dim)


def seed_of(settings: Settings, *labels) -> int:
    return int(torch.randint(2**31 - 1, (1,), generator=generator_for(settings.seed, *labels)))


def stored_order(total: int, settings: Settings, seed_index: int) -> Tensor:
    """The training seed's permutation of the training pool: its stored set of P is the first P."""
    return torch.randperm(total, generator=generator_for(settings.seed, "order", seed_index))


@dataclass(frozen=True)
class Point:
    """One measured point of an (arm, K): the stored-set size P, the training seed (its index and the seed drawn for
    it), the condition and masking, and the task (stored images, hidden pixels)."""

    count: int
    seed_index: int
    seed: int
    task: Task


def points_of(
    arm: Arm, units: int, counts: list[int], rows: list[tuple[str, str]], images: dict[str, Images], settings: Settings
) -> list[Point]:
    """Every (P in ``counts``, training seed, (condition, masking) in ``rows``) of an (arm, K), in that order."""
    conditions = {c.name: c for c in settings.conditions}
    total = images[conditions[arm.measured[0]].version].train.shape[0]
    out = []
    for count in counts:
        for seed_index in range(settings.seeds):
            seed = seed_of(settings, arm.name, units, count, seed_index)
            order = stored_order(total, settings, seed_index)[:count]
            for name, masking in rows:
                pool = images[conditions[name].version]
                task = Task(pool.train[order], conditions[name], masking, pool.hidden)
                out.append(Point(count, seed_index, seed, task))
    return out


def backprop_fits(arm: Arm, units: int, points: list[Point], chosen: dict[tuple, dict], settings) -> list[Fitted]:
    """Backprop's fit at every point: per (condition, masking) not yet in ``chosen`` the lr × init sweep at its first
    point (:func:`sweep_backprop`; the first seed of the smallest P above K), its fit recorded in ``chosen``, then
    every other point at the lr and init chosen there, all of them in parallel (``parallel.map_fits``; each fit
    independent, the record identical for any worker count)."""
    out: list[Fitted | None] = [None] * len(points)
    for index, point in enumerate(points):
        at = (point.task.condition.name, point.task.masking)
        if at not in chosen:
            out[index] = swept = sweep_backprop(arm, units, point.task, point.seed, settings)
            chosen[at] = swept.fit
    rest = [i for i, fitted in enumerate(out) if fitted is None]
    items = []
    for i in rest:
        kept = chosen[(points[i].task.condition.name, points[i].task.masking)]
        items.append(FitItem(arm, units, points[i].task, points[i].seed, kept["lr"], kept["init"], settings))
    for i, fitted in zip(rest, map_fits(run_fit, items), strict=True):
        out[i] = fitted
    done = [fitted for fitted in out if fitted is not None]
    if len(done) != len(points):
        raise RuntimeError(f"backprop_fits: {len(points) - len(done)} points left without a fit")
    return done


def kept_memory(fitted: Fitted, task: Task, steps: int) -> tuple[Units, dict]:
    """The trained units only where they recover more of the stored set than the units they started from (the
    stored-set recall criterion; memorisation: the stored set is the training set and the test set), else the
    start: (units, the fit with ``kept`` "trained" / "start" and both stored-set fractions)."""
    scores = {
        name: float(stored_recovered(units, task, steps)[0].double().mean())
        for name, units in (("trained", fitted.trained), ("start", fitted.start))
    }
    kept = "trained" if scores["trained"] > scores["start"] else "start"
    fit = {
        **fitted.fit,
        "kept": kept,
        "stored_trained": round(scores["trained"], 6),
        "stored_start": round(scores["start"], 6),
    }
    return (fitted.trained if kept == "trained" else fitted.start), fit


def measure(arm: Arm, units: int, images: dict[str, Images], settings: Settings) -> tuple[list[dict], list[dict]]:
    """One (arm, K) under each of its conditions and masking conventions, at each P and training seed: the curve
    points (stored-set, threshold-only and held-out fractions) and, for backprop, one fit record per point. First the
    grid of ``ratios`` and the arm's own ``ratios_below`` (backprop's sweep at :func:`sweep_point`, measured first),
    then, one ratio of ``ratios_beyond`` at a time, the larger P for the rows (condition, masking) whose mean stored
    fraction over the seeds is still at least the primary level at their largest P (:func:`open_rows`), so that no
    P_0.9 stays censored above a grid it could leave."""
    conditions = {c.name: c for c in settings.conditions}
    total = images[conditions[arm.measured[0]].version].train.shape[0]
    grid = stored_grid(units, total, [*settings.ratios, *arm.ratios_below])
    swept = sweep_point(grid, units)
    every = [(name, masking) for name in arm.measured for masking in settings.masking]
    chosen: dict[tuple, dict] = {}
    counts = sorted(grid, key=lambda c: (c != swept, c))
    points = points_of(arm, units, counts, every, images, settings)
    rows, fits = measure_points(arm, units, points, chosen, images, settings)
    for count in stored_grid(units, total, settings.ratios_beyond):
        wanted = open_rows(rows, count)
        if wanted:
            points = points_of(arm, units, [count], wanted, images, settings)
            more, more_fits = measure_points(arm, units, points, chosen, images, settings)
            rows, fits = rows + more, fits + more_fits
    return rows, fits


def open_rows(rows: list[dict], count: int) -> list[tuple[str, str]]:
    """The (condition, masking) whose mean stored fraction over the seeds at their largest P (below ``count``) is at
    least the primary level :data:`LEVELS` [:data:`PRIMARY`]: their P_0.9 lies above the P measured so far."""
    out = []
    for at in dict.fromkeys((row["condition"], row["masking"]) for row in rows):
        mine = [row for row in rows if (row["condition"], row["masking"]) == at]
        largest = max(row["P"] for row in mine)
        values = [row["stored"] for row in mine if row["P"] == largest]
        if largest < count and sum(values) / len(values) >= LEVELS[PRIMARY]:
            out.append(at)
    return out


def measure_points(
    arm: Arm, units: int, points: list[Point], chosen: dict[tuple, dict], images: dict[str, Images], settings: Settings
) -> tuple[list[dict], list[dict]]:
    """The curve points and backprop fit records of ``points``. A registry rule fills the units once per image
    version, P and seed (the masking does not change what it writes); backprop trains once per condition, masking,
    P and seed (:func:`backprop_fits`, sweeping where ``chosen`` has no lr yet) and keeps the trained units only where
    they beat their start on the stored set (:func:`kept_memory`)."""
    trained = backprop_fits(arm, units, points, chosen, settings) if arm.rule == BACKPROP else [None] * len(points)
    rows, fits = [], []
    filled: dict[tuple, Filled] = {}
    for point, fitted in zip(points, trained, strict=True):
        task = point.task
        name, masking = task.condition.name, task.masking
        memory: Filled
        if fitted is not None:
            memory, fit_ = kept_memory(fitted, task, settings.steps)
            fits.append({"condition": name, "masking": masking, "P": point.count, "seed": point.seed_index, **fit_})
        else:
            key = (point.count, point.seed_index, task.condition.version)
            if key not in filled:
                filled[key] = fill(arm, units, task, point.seed, settings)
            memory = filled[key]
        hits, within = stored_recovered(memory, task, settings.steps)
        held = held_out_recovered(memory, images[task.condition.version].held_out, task, settings.steps)
        rows.append(
            {
                "arm": arm.name,
                "condition": name,
                "masking": masking,
                "K": units,
                "P": point.count,
                "seed": point.seed_index,
                "stored": round(float(hits.double().mean()), 6),
                "stored_within_threshold": round(float(within.double().mean()), 6),
                "held_out": round(float(held.double().mean()), 6),
            }
        )
    return rows, fits


def sweep_point(grid: list[int], units: int) -> int:
    """The P of the grid where backprop's lr × init sweep runs: the smallest P above K (the largest P when none is),
    the first load at which K units must do more than keep the images (at P ≤ K the slot start is already a
    solution and every lr ties at the floor)."""
    return min((c for c in grid if c > units), default=grid[-1])


# summarising ------------------------------------------------------------------------------------------------------
def seed_table(points: list[dict], field: str) -> tuple[list[int], list[list[float]]]:
    """The grid of P and the (points, seeds) table of ``field`` of one (arm, condition, masking, K)."""
    counts = sorted({p["P"] for p in points})
    table = [[p[field] for p in sorted(points, key=lambda p: p["seed"]) if p["P"] == count] for count in counts]
    return counts, table


def resampled(table: list[list[float]], statistic, samples: int, generator: torch.Generator) -> tuple:
    """95% percentile interval of ``statistic`` (the (points,) mean over seeds → a number or None) when the training
    seeds (columns of ``table``) are resampled with replacement; (None, None) when every resample gives None."""
    values = torch.tensor(table, dtype=torch.float64)
    seeds = values.shape[1]
    found = []
    for _ in range(samples):
        value = statistic(values[:, torch.randint(seeds, (seeds,), generator=generator)].mean(1).tolist())
        if value is not None:
            found.append(value)
    if not found:
        return None, None
    low, high = torch.tensor(found, dtype=torch.float64).quantile(torch.tensor([0.025, 0.975], dtype=torch.float64))
    return round(float(low), 6), round(float(high), 6)


def capacity(points: list[dict], samples: int, generator: torch.Generator) -> dict:
    """P_0.9, P_0.99, P_half (each with its interval over seeds, or null with ``<key>_outside``), max_recalled =
    max_P P·f(P) with its interval, and the curve of mean fractions against P (stored with its interval, threshold
    only, held out)."""
    counts, table = seed_table(points, "stored")
    means = [sum(row) / len(row) for row in table]
    out: dict = {}
    for key, level in LEVELS.items():
        low, high = bootstrap_crossing(counts, table, level, samples, generator)
        out.update(grid_estimate(key, crossing(counts, means, level), counts, means, level))
        if (outside := out.get(f"{key}_outside")) is not None:
            outside["fraction"] = round(outside["fraction"], 6)  # as the curve's stored fraction at that edge
        out[f"{key}_low"], out[f"{key}_high"] = (None if v is None else round(v, 6) for v in (low, high))

    def most(fractions: list[float]) -> float:
        return max(c * f for c, f in zip(counts, fractions, strict=True))

    out["max_recalled"] = round(most(means), 6)
    out["max_recalled_low"], out["max_recalled_high"] = resampled(table, most, samples, generator)
    curve = []
    for index, count in enumerate(counts):
        row = {"P": count, "stored": round(means[index], 6)}
        row["stored_low"], row["stored_high"] = resampled([table[index]], lambda f: f[0], samples, generator)
        for field in ("stored_within_threshold", "held_out"):
            values = seed_table(points, field)[1][index]
            row[field] = round(sum(values) / len(values), 6)
        curve.append(row)
    out["curve"] = curve
    return out


def training_summary(fits: list[dict]) -> dict:
    """Backprop's convergence at one (condition, masking, K): every fit's record, whether all reached the plateau
    (and none stalled), how many of the ``count`` fits stopped at the cap instead (``at_cap``), how many stalled
    (``stalled``: flat at their first epoch's loss, :class:`hebbdam.lit.backprop.Plateau`), the median (upper) and
    most updates used, how many fits kept the trained units and how many their start, and the sweep's lrs
    tried and whether the chosen lr still sits on an edge of them."""
    swept = next(f for f in fits if "swept" in f)
    updates = sorted(f["updates"] for f in fits)
    return {
        "converged": all(f["converged"] for f in fits),
        "at_cap": sum(not f["converged"] and not f["stalled"] for f in fits),
        "stalled": sum(f["stalled"] for f in fits),
        "count": len(fits),
        "updates_median": updates[len(updates) // 2],
        "updates_max": updates[-1],
        "kept": {side: sum(f["kept"] == side for f in fits) for side in ("trained", "start")},
        "lr": swept["lr"],
        "init": swept["init"],
        "lrs_tried": swept["lrs_tried"],
        "lr_at_edge": swept["lr_at_edge"],
        "fits": fits,
    }


def slope(entries: dict) -> float | None:
    """Least-squares slope of log P_0.9 against log K over the K with a measured P_0.9 (None with fewer than two)."""
    measured = [(e["K"], e[PRIMARY]) for e in entries.values() if isinstance(e, dict) and e.get(PRIMARY) is not None]
    if len(measured) < 2:
        return None
    return round(loglog_slope([k for k, _ in measured], [p for _, p in measured]), 6)


def summarise(arm: Arm, units: int, dim: int, points: list[dict], fits: list[dict], settings) -> dict:
    """{condition: {masking: the K's entry}} of one (arm, K)."""
    out: dict = {}
    for name in arm.measured:
        for masking in settings.masking:
            mine = [p for p in points if p["condition"] == name and p["masking"] == masking]
            generator = generator_for(settings.seed, arm.name, name, masking, units, "bootstrap")
            entry = {
                "K": units,
                "parameters": arm.parameters(units, dim),
                **capacity(mine, settings.bootstrap, generator),
            }
            if arm.rule == BACKPROP:
                entry["training"] = training_summary(
                    [f for f in fits if f["condition"] == name and f["masking"] == masking]
                )
            out.setdefault(name, {})[masking] = entry
    return out


def run(settings: Settings, images: dict[str, Images], dim: int) -> tuple[dict, list[dict]]:
    """Every arm, condition, masking and K: (record arms, curve points)."""
    arms: dict = {}
    curves: list[dict] = []
    for arm in settings.arms:
        entry = {"rule": arm.rule, "locality": arm.locality, "budget": arm.budget, "units": arm.units, "conditions": {}}
        if arm.rule in (BACKPROP, BCPNN_HIDDEN):
            entry["options"] = dict(arm.options)
        per: dict[str, dict[str, dict]] = {name: {m: {} for m in settings.masking} for name in arm.measured}
        for units in arm.units:
            start = time.perf_counter()
            points, fits = measure(arm, units, images, settings)
            curves.extend(points)
            for name, by_masking in summarise(arm, units, dim, points, fits, settings).items():
                for masking, result in by_masking.items():
                    per[name][masking][f"K{units}"] = result
            found = ", ".join(
                f"{name}/{m} {per[name][m][f'K{units}'][PRIMARY]}" for name in arm.measured for m in settings.masking
            )
            say(f"budget images {arm.name} K={units}: {PRIMARY} {found} ({time.perf_counter() - start:.1f} s)")
        entry["conditions"] = {
            name: {masking: {"slope": slope(per_k), **per_k} for masking, per_k in by_masking.items()}
            for name, by_masking in per.items()
        }
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
        "seeds": settings.seeds,
        "levels": dict(LEVELS),
        "masking": {name: MASKING[name] for name in settings.masking},
        "conditions": {c.name: describe(c) for c in settings.conditions},
        "mean_image_floor": {
            version: mean_image_floor(entry, error_threshold(dim), version == "binary")
            for version, entry in images.items()
            if any(c.version == version for c in settings.conditions)
        },
        "blank_cue_floor": {
            version: blank_cue_floor(entry, error_threshold(dim))
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
        headline=lambda record: select(record, f"arms.*.conditions.*.*.K*.{PRIMARY}"),
        curves=(
            Curves(
                "budget_images_curves.json",
                x="P",
                y=("stored", "held_out"),
                series=("arm", "condition", "masking", "K", "seed"),
            ),
        ),
    )
