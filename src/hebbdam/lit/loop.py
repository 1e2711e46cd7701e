"""The plain PyTorch loop of small full-batch memorisation fits: a :class:`~hebbdam.lit.backprop.BackpropModule`'s
objective with exactly the arithmetic of its Lightning fit, without Lightning's per-step hooks.

The same optimiser and schedule (``BackpropModule.optimiser``: ×anneal after each whole epoch), the same generator per
update (``step_generator(seed, step)``), the same batch order (``EpochSampler``: in order, or shuffled per
(seed, epoch)), the same caps (``max_epochs``; ``max_steps`` ends the last epoch early, and that partial epoch is
still read), the same :class:`~hebbdam.lit.backprop.Plateau` readings (each update's loss; or each epoch's mean
training loss accumulated as Lightning's ``train/loss_epoch`` is: Σ loss·rows in float32, over the rows) and the same
:class:`~hebbdam.errors.DivergedError` after any update that leaves a parameter non-finite. A fit of 1–3 ms per
update spends about half of its CPU in Lightning's hooks (logging, callbacks, optimiser wrappers), so the fits of
E8 and the sparse and continual races run here whenever the trainer section asks for nothing but one CPU process.
"""

from __future__ import annotations

from typing import Any, Protocol

import torch
from torch import Tensor

from ..data.sampling import EpochSampler
from .trainer import checked, checkpointing


class Fitted(Protocol):
    """What the loop trains: a :class:`~hebbdam.lit.backprop.BackpropModule` (named here by what it does, since
    ``lit.backprop`` imports this module)."""

    seed: int

    def optimiser(self) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]: ...

    def step_loss(self, batch: tuple[Tensor, ...], step: int, rank: int = 0) -> tuple[Tensor, dict]: ...

    def check_finite(self, step: int, epoch: int, batch_idx: int) -> None: ...

    def train(self, mode: bool = True) -> Any: ...


class Stopping(Protocol):
    """What the loop reads the losses into: a :class:`~hebbdam.lit.backprop.Plateau`."""

    unit: str

    @property
    def keeps_updates(self) -> bool: ...

    def update(self, trainer: Any, loss: float) -> None: ...

    def read(self, trainer: Any, step: int, loss: float) -> None: ...


PLAIN_PRECISIONS = (None, 32, "32", "32-true")


def plain_loop_applies(section: dict | None, logger: object) -> bool:
    """Whether a fit under the ``trainer`` section and ``logger`` can run in :func:`fit_plain`: no logger, the CPU,
    strategy auto (one process per fit), 32-bit precision, no checkpoint folder, deterministic off (anything else
    keeps the Lightning fit). A key the section does not know is a ConfigError, as the Lightning fit raises."""
    section = checked(section)
    checkpointing(section, None)  # the checkpoint options are checked even where none is written
    checkpoint = section.get("checkpoint") or {}
    return (
        logger is False
        and section.get("accelerator", "cpu") == "cpu"
        and section.get("strategy", "auto") in (None, "auto")
        and section.get("precision") in PLAIN_PRECISIONS
        and not section.get("deterministic")
        and not checkpoint.get("dir")
    )


class Stopper:
    """What a :class:`~hebbdam.lit.backprop.Plateau` stops (``should_stop``) and restarts (``optimizers``) outside a
    Lightning fit, as it does a Lightning trainer."""

    def __init__(self, optimizers: list[torch.optim.Optimizer]):
        self.optimizers, self.should_stop = optimizers, False


def fit_plain(
    module: Fitted,
    patterns: Tensor,
    batch_size: int,
    max_epochs: int,
    max_steps: int = -1,
    labels: Tensor | None = None,
    shuffle: bool = False,
    plateau: Stopping | None = None,
) -> int:
    """Train ``module`` on ``patterns`` (P, D) (with ``labels`` (P,)) in batches of ``batch_size`` rows for at most
    ``max_epochs`` epochs and ``max_steps`` updates (-1: no cap), until ``plateau`` stops it; returns the updates
    taken. Bit-for-bit the weights, readings and summary of the Lightning fit (one CPU process)."""
    tensors = (patterns,) if labels is None else (patterns, labels)
    optimizer, scheduler = module.optimiser()
    sampler = EpochSampler(patterns.shape[0], shuffle, module.seed)
    stopper, step = Stopper([optimizer]), 0
    module.train()
    for epoch in range(max_epochs):
        sampler.set_epoch(epoch)
        order = torch.tensor(list(sampler), dtype=torch.long)
        total, rows = torch.tensor(0.0), 0  # Lightning's epoch mean: Σ loss·batch rows in the default dtype
        for batch_idx, index in enumerate(order.split(batch_size)):
            loss, _ = module.step_loss(tuple(t[index] for t in tensors), step)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            module.check_finite(step, epoch, batch_idx)  # the 1-based update, as the Lightning fit names it
            total, rows = total + loss.detach() * index.shape[0], rows + index.shape[0]
            if plateau is not None and plateau.keeps_updates:
                plateau.update(stopper, float(loss.detach()))
            if stopper.should_stop or step == max_steps:
                break
        if plateau is not None and plateau.unit == "epoch":
            plateau.read(stopper, step, float(total / torch.tensor(rows)))
        if stopper.should_stop or step == max_steps:
            break
        scheduler.step()
    return step
