"""Storage as Lightning training: a LightningModule that applies a learning rule with no autograd.

The same module stores random patterns for the capacity ladder and trains on image batches later; Lightning
supplies the device placement, the data loop, checkpoints and (with several devices) the process group. Hebbian
writes are sums, so with several devices each rank writes its shard of the data from the same zero state and an
all-reduce adds the shards before ``finalize`` (rules with ``combine="concat"`` gather appended rows in rank order;
sequential rules, ``combine="none"``, refuse to be sharded).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytorch_lightning as pl
import torch
from torch import Tensor

from ..errors import HebbdamError
from ..memory import Memory, Separation, build, default_kind
from ..rules import Rule
from ..rules.base import check_target, passes_in_order
from .data import PatternDataModule
from .loop import plain_loop_applies
from .trainer import fit

# (fit label, [(patterns written, ‖stored‖) per epoch]) of every Hebbian fit since collected_curves began; None: the
# fits log their curves to the open W&B run themselves
CURVES: list[tuple[str, list[tuple[float, float]]]] | None = None


@contextmanager
def collected_curves() -> Iterator[list[tuple[str, list[tuple[float, float]]]]]:
    """Inside: each Hebbian fit (:func:`store`) keeps its curve here instead of logging it, so a stage whose fits run
    in worker processes can return the curves and log them itself, in its own order (``Tracker.hebbian``)."""
    global CURVES
    outer, CURVES = CURVES, []
    try:
        yield CURVES
    finally:
        CURVES = outer


class HebbianModule(pl.LightningModule):
    """Applies ``rule`` to each batch: manual optimisation, no autograd, no optimiser, no parameters.

    ``stored`` (a buffer, so checkpoints and ``.to(device)`` carry it) is the rule's target tensor: pairwise weights
    W (D, D), a DAM memory matrix Ξ (P, D), hidden-unit weights (K, D), a feature tensor (F,) or tensor factors.
    ``seed`` fixes the random initial state of rules that start from one (Oja, Krotov–Hopfield).
    """

    stored: Tensor  # a registered buffer

    def __init__(self, rule: Rule, dim: int, seed: int = 0):
        super().__init__()
        self.automatic_optimization = False
        self.rule = rule
        self.dim = dim
        self.seed = seed
        self.register_buffer("stored", rule.initial(dim, torch.Generator().manual_seed(seed)))
        self.finalized = False
        self.written = 0  # patterns written so far (all epochs): the x-axis of the hebbian/* curves in W&B

    def configure_optimizers(self):
        return None

    def _progress(self) -> float:
        trainer = self._trainer
        if trainer is None or not trainer.max_epochs or trainer.max_epochs < 1:
            return 0.0
        return self.current_epoch / trainer.max_epochs

    def on_train_start(self) -> None:
        world = self.trainer.world_size
        if world > 1 and self.rule.combine == "none":
            raise HebbdamError(
                f"rule {self.rule.name} is sequential (each update depends on the last) and cannot be sharded "
                f"over {world} devices: use devices=1"
            )
        self.finalized = False

    def training_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> None:
        self.write(batch[0], self._progress(), self.global_step, self.current_epoch, batch_idx)
        # the write is the step: with no optimiser Lightning steps a stand-in, and stepping it through
        # ``self.optimizers()`` is what advances ``global_step`` (checkpoints name steps, ``every_n_train_steps``
        # and the loggers count them)
        optimizer = self.optimizers()
        if isinstance(optimizer, list):  # configure_optimizers returns none: Lightning makes one stand-in
            raise HebbdamError(f"HebbianModule: expected one stand-in optimiser, got {len(optimizer)}")
        optimizer.step()

    def write(self, patterns: Tensor, progress: float, step: int, epoch: int, batch_idx: int) -> None:
        """One batch (B, D) through the rule at training ``progress`` in [0, 1); ``step`` (0-based), ``epoch`` and
        ``batch_idx`` name the write in the error a non-finite stored tensor raises."""
        with torch.no_grad():
            updated = self.rule.step(self.stored, patterns.to(self.stored.dtype), progress)
        if not bool(torch.isfinite(updated).all()):
            raise HebbdamError(
                f"rule {self.rule.name}: stored tensor became non-finite at step {step} "
                f"(epoch {epoch}, batch {batch_idx}); lower the learning rate "
                f"(hyper-parameters {self.rule.hyper or 'none'}); the last checkpoint written is unchanged"
            )
        self.stored = updated
        self.written += patterns.shape[0]

    def on_train_epoch_end(self) -> None:
        if self.collect_curve():
            return
        # against the patterns written (tracking.WRITTEN), not the stand-in optimiser's steps
        self.log("written/patterns", float(self.written), on_epoch=True, on_step=False)
        self.log("hebbian/stored_norm", self.stored.float().norm(), on_epoch=True, on_step=False)

    def collect_curve(self) -> bool:
        """At an epoch's end: whether the epoch needs no logging — nothing stored, or its point (patterns written,
        ‖stored‖) kept in the collecting stage's :data:`CURVES` (its fits may run in a worker, which logs nothing)."""
        if not self.stored.numel():
            return True
        if CURVES is None:
            return False
        CURVES[-1][1].append((float(self.written), float(self.stored.float().norm())))
        return True

    def on_train_end(self) -> None:
        stored = self.stored
        world = self.trainer.world_size
        if world > 1 and self.rule.combine == "sum":
            stored = self.trainer.strategy.reduce(stored.clone(), reduce_op="sum")
        elif world > 1 and self.rule.combine == "concat":
            shards: list[Tensor] = [torch.empty(0)] * world  # placeholders: each is replaced by one rank's rows
            torch.distributed.all_gather_object(shards, stored.cpu())
            stored = torch.cat(shards, dim=0).to(self.stored.device)
        self.stored = self.rule.finalize(stored)
        self.finalized = True

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # appended-row rules change the shape of ``stored``: take the checkpoint's shape before loading it
        saved = state_dict.get(prefix + "stored")
        if saved is not None and saved.shape != self.stored.shape:
            self.stored = torch.empty_like(saved, device=self.stored.device)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def memory(self, separation: Separation | None = None, kind: str | None = None) -> Memory:
        """The trained memory, built by the memory registry: kind ``kind`` (default: the primary kind of the rule's
        target, e.g. a Hopfield network for pairwise weights, a Dense AM for slots and hidden units, which needs
        ``separation``). A kind that does not accept the rule's target raises :class:`hebbdam.rules.RuleTargetError`."""
        try:
            kind = kind or default_kind(self.rule.target)
        except ValueError as err:
            raise ValueError(f"rule {self.rule.name}: {err}") from err
        check_target(self.rule, kind)
        return build(kind, self.stored, self.dim, self.rule.hyper, separation)


def store(
    patterns: Tensor,
    rule: Rule,
    trainer_section: dict | None = None,
    batch_size: int = 1024,
    seed: int = 0,
    memory: object | None = None,
    name: str | None = None,
    **overrides,
) -> HebbianModule:
    """Write ``patterns`` (P, D) with ``rule`` through a Lightning fit and return the trained module.

    ``trainer_section``: the ``trainer`` config (:func:`hebbdam.lit.trainer.build_trainer`); ``overrides`` such as
    ``max_epochs`` (iterative rules) win over it; ``name`` labels the fit for checkpoints.

    ``memory``: the memory object (or registry kind name) the caller means to train; a rule that cannot train it raises
    :class:`hebbdam.rules.RuleTargetError` naming both, before any work.
    """
    if memory is not None:
        check_target(rule, memory)
    module = HebbianModule(rule, patterns.shape[1], seed=seed)
    if CURVES is not None:
        CURVES.append((name or f"{rule.name} fit {len(CURVES) + 1}", []))
    epochs = plain_epochs(patterns, trainer_section, overrides)
    if epochs is not None:
        write_plain(module, patterns, batch_size, epochs)
        return module
    datamodule = PatternDataModule(patterns, batch_size=batch_size)
    fit(module, datamodule, trainer_section, name=name, **overrides)
    return module


def plain_epochs(patterns: Tensor, trainer_section: dict | None, overrides: dict) -> int | None:
    """The epochs of a :func:`store` that :func:`write_plain` runs exactly as its Lightning fit does, or None: a
    fit with no logger (``logger=False``), nothing but ``max_epochs`` (≥ 1) overridden, a section that
    :func:`~hebbdam.lit.loop.plain_loop_applies` to and at least one pattern (Lightning skips a fit with no
    batches, finalize included)."""
    if set(overrides) - {"logger", "max_epochs"} or not plain_loop_applies(trainer_section, overrides.get("logger")):
        return None
    epochs = overrides.get("max_epochs", (trainer_section or {}).get("max_epochs") or 1)
    return epochs if isinstance(epochs, int) and epochs >= 1 and patterns.shape[0] > 0 else None


def write_plain(module: HebbianModule, patterns: Tensor, batch_size: int, epochs: int) -> None:
    """``module``'s Lightning fit on ``patterns`` (P, D) without a ``pl.Trainer``: ``epochs`` passes in order over
    batches of ``batch_size`` rows (progress epoch / epochs), the curve point after each epoch, then ``finalize``.
    The same arithmetic as the fit on one CPU process; a write costs microseconds, a Trainer's set-up milliseconds."""
    module.finalized, last = False, -(-patterns.shape[0] // batch_size) - 1
    for step, (epoch, batch_idx, rows) in enumerate(passes_in_order(patterns, epochs, batch_size)):
        module.write(rows.contiguous(), epoch / epochs, step, epoch, batch_idx)
        if batch_idx == last:  # the curve point at each epoch's end
            module.collect_curve()
    module.stored = module.rule.finalize(module.stored)
    module.finalized = True
