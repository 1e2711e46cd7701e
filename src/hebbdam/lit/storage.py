"""Storage as Lightning training: a LightningModule that applies a learning rule with no autograd.

The same module stores random patterns for the capacity ladder and trains on image batches later; Lightning
supplies the device placement, the data loop and (with several devices) the process group.
"""

from __future__ import annotations

import pytorch_lightning as pl
import torch
from torch import Tensor
from torch.utils.data import DataLoader, TensorDataset

from ..errors import HebbdamError
from ..memory import DenseAM, Hopfield, Memory, Separation
from ..rules import Rule


class PatternDataModule(pl.LightningDataModule):
    """Serves a fixed pattern matrix (P, D) in order, in batches of ``batch_size`` rows."""

    def __init__(self, patterns: Tensor, batch_size: int = 1024):
        super().__init__()
        self.patterns = patterns
        self.batch_size = batch_size

    def train_dataloader(self) -> DataLoader:
        return DataLoader(TensorDataset(self.patterns), batch_size=self.batch_size, shuffle=False)


class HebbianModule(pl.LightningModule):
    """Applies ``rule`` to each batch: manual optimisation, no autograd, no optimiser.

    ``stored`` is the rule's target tensor: pairwise weights W (D, D) or a DAM memory matrix Ξ (P, D).
    """

    def __init__(self, rule: Rule, dim: int):
        super().__init__()
        self.automatic_optimization = False
        self.rule = rule
        self.dim = dim
        initial = torch.zeros(dim, dim) if rule.target == "pairwise" else torch.zeros(0, dim)
        self.register_buffer("stored", initial)

    def configure_optimizers(self):
        return None

    def training_step(self, batch: tuple[Tensor], batch_idx: int) -> None:
        (patterns,) = batch
        with torch.no_grad():
            updated = self.rule.update(self.stored, patterns.to(self.stored.dtype))
        if not bool(torch.isfinite(updated).all()):
            raise HebbdamError(
                f"rule {self.rule.name}: stored tensor became non-finite at step {self.global_step} "
                f"(batch {batch_idx}); lower the learning rate"
            )
        self.stored = updated

    def on_train_end(self) -> None:
        self.stored = self.rule.finalize(self.stored)

    def memory(self, separation: Separation | None = None) -> Memory:
        """The trained memory: a Hopfield network for pairwise rules, a Dense AM (needs ``separation``) for slots."""
        if self.rule.target == "pairwise":
            return Hopfield(self.stored)
        if separation is None:
            raise ValueError(f"rule {self.rule.name} writes DAM memories: a separation function is required")
        return DenseAM(self.stored, separation)


def make_trainer(accelerator: str = "cpu", devices: int | str = 1, max_epochs: int = 1, **kwargs) -> pl.Trainer:
    """A quiet Trainer for storage: no logger, checkpoints, model summary or progress bar unless asked for."""
    options = dict(
        accelerator=accelerator,
        devices=devices,
        max_epochs=max_epochs,
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        enable_progress_bar=False,
        num_sanity_val_steps=0,
    )
    options.update(kwargs)
    return pl.Trainer(**options)


def store(patterns: Tensor, rule: Rule, trainer_options: dict | None = None) -> HebbianModule:
    """Write ``patterns`` (P, D) with ``rule`` through a Lightning fit and return the trained module."""
    module = HebbianModule(rule, patterns.shape[1])
    make_trainer(**(trainer_options or {})).fit(module, datamodule=PatternDataModule(patterns))
    return module
