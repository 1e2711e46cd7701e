"""Storage as Lightning training: a LightningModule that applies a learning rule with no autograd.

The same module stores random patterns for the capacity ladder and trains on image batches later; Lightning
supplies the device placement, the data loop, checkpoints and (with several devices) the process group. Hebbian
writes are sums, so with several devices each rank writes its shard of the data from the same zero state and an
all-reduce adds the shards before ``finalize`` (rules with ``combine="concat"`` gather appended rows in rank order;
sequential rules, ``combine="none"``, refuse to be sharded).
"""

from __future__ import annotations

import pytorch_lightning as pl
import torch
from torch import Tensor

from ..errors import HebbdamError
from ..memory import Memory, Separation, build, default_kind
from ..rules import Rule
from ..rules.base import check_target
from .data import PatternDataModule
from .trainer import fit


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
        patterns = batch[0]
        with torch.no_grad():
            updated = self.rule.step(self.stored, patterns.to(self.stored.dtype), self._progress())
        if not bool(torch.isfinite(updated).all()):
            raise HebbdamError(
                f"rule {self.rule.name}: stored tensor became non-finite at step {self.global_step} "
                f"(epoch {self.current_epoch}, batch {batch_idx}); lower the learning rate "
                f"(hyper-parameters {self.rule.hyper or 'none'}); the last checkpoint written is unchanged"
            )
        self.stored = updated
        # the write is the step: with no optimiser Lightning steps a stand-in, and stepping it through
        # ``self.optimizers()`` is what advances ``global_step`` (checkpoints name steps, ``every_n_train_steps``
        # and the loggers count them)
        optimizer = self.optimizers()
        if isinstance(optimizer, list):  # configure_optimizers returns none: Lightning makes one stand-in
            raise HebbdamError(f"HebbianModule: expected one stand-in optimiser, got {len(optimizer)}")
        optimizer.step()

    def on_train_epoch_end(self) -> None:
        if self.stored.numel():
            self.log("hebbian/stored_norm", self.stored.float().norm(), on_epoch=True, on_step=False)

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
    datamodule = PatternDataModule(patterns, batch_size=batch_size)
    fit(module, datamodule, trainer_section, name=name, **overrides)
    return module
