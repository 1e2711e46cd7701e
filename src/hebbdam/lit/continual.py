"""Objectives for learning tasks one after another (E7), wrapping a task's own objective (e.g. ``Denoising``):

- :class:`ElasticAnchor`: elastic weight consolidation (Kirkpatrick et al. 2017), online form: the task's loss plus
  ½λ Σ_i F_i (θ_i − θ*_i)², θ* the parameters after the previous task and F the sum over the previous tasks of the
  diagonal Fisher information of the recall (:func:`diagonal_fisher`, each task's at its own end);
- :class:`EpisodicProjection`: averaged gradient episodic memory, A-GEM (Chaudhry et al. 2019): the task's gradient g
  is kept where it does not raise the loss on an episodic memory of earlier patterns (g·r ≥ 0, r that memory's
  gradient), else projected onto the plane orthogonal to r, g̃ = g − (g·r / r·r) r.

Both are nonlocal: a synapse's update reads every other synapse's gradient (the projection) or a per-synapse
importance computed by backprop (the anchor). Each wraps any objective with ``loss(memory, batch, generator)``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..data.synthetic import flip_bits
from .backprop import Denoisable, Denoising


def trained(memory: nn.Module) -> list[nn.Parameter]:
    """The parameters an optimiser moves (``requires_grad``), in registration order."""
    return [parameter for parameter in memory.parameters() if parameter.requires_grad]


def diagonal_fisher(
    objective: Denoising, memory: Denoisable, patterns: Tensor, generator: torch.Generator
) -> list[Tensor]:
    """The diagonal Fisher information of the recall at ``memory``'s parameters over ``patterns`` (P, D): the output
    y = recall(corrupted ξ) read as the mean of a unit-variance Gaussian, F = mean over the rows of Σ_i (∂y_i/∂θ)²
    (the Gauss–Newton diagonal), one tensor per trained parameter (its shape). Not the squared gradient of the loss
    (the "empirical Fisher"), which vanishes where a task is solved: at the end of a fitted task it weighs nothing."""
    parameters = trained(memory)
    fisher = [torch.zeros_like(parameter) for parameter in parameters]
    corrupted = flip_bits(patterns, objective.flip, generator)
    for row in corrupted:
        output = objective.recall(memory, row[None])[0]  # (D,)
        for unit in output:
            for total, gradient in zip(fisher, torch.autograd.grad(unit, parameters, retain_graph=True), strict=True):
                total += gradient.detach().square() / patterns.shape[0]
    return fisher


class ElasticAnchor:
    """The task's loss + ½ ``strength`` Σ F (θ − θ*)²: ``anchor`` θ* and ``importance`` F, one tensor per trained
    parameter of the memory (no anchor before the first task: the plain loss)."""

    name = "ewc"

    def __init__(self, objective, strength: float, anchor: list[Tensor] | None, importance: list[Tensor] | None):
        if not strength >= 0:
            raise ValueError(f"strength: expected a number ≥ 0, got {strength!r}")
        self.objective, self.strength = objective, strength
        self.anchor, self.importance = anchor, importance

    def loss(self, memory: nn.Module, batch: tuple[Tensor, ...], generator: torch.Generator) -> tuple[Tensor, dict]:
        loss, logs = self.objective.loss(memory, batch, generator)
        if self.anchor is None or self.importance is None:
            return loss, logs
        penalty = torch.stack(
            [
                (weight * (parameter - start).square()).sum()
                for parameter, start, weight in zip(trained(memory), self.anchor, self.importance, strict=True)
            ]
        ).sum()
        return loss + 0.5 * self.strength * penalty, {**logs, "penalty": penalty.detach()}


class EpisodicProjection:
    """A-GEM: the task's loss, its gradient projected where it conflicts with the ``episodic`` memory's (M, D) (None
    or empty: the plain loss). The returned loss has the task loss's value and the projected gradient:
    L − c (L_ep − sg(L_ep)) with c = min(0, g·r) / r·r, so an optimiser stepping on it steps along g̃."""

    name = "agem"

    def __init__(self, objective, episodic: Tensor | None):
        self.objective, self.episodic = objective, episodic

    def loss(self, memory: nn.Module, batch: tuple[Tensor, ...], generator: torch.Generator) -> tuple[Tensor, dict]:
        loss, logs = self.objective.loss(memory, batch, generator)
        if self.episodic is None or self.episodic.shape[0] == 0:
            return loss, logs
        reference, _ = self.objective.loss(memory, (self.episodic.to(batch[0].device),), generator)
        parameters = trained(memory)
        task = torch.autograd.grad(loss, parameters, retain_graph=True)
        episodic = torch.autograd.grad(reference, parameters, retain_graph=True)
        dot = torch.stack([(g * r).sum() for g, r in zip(task, episodic, strict=True)]).sum()
        norm = torch.stack([r.square().sum() for r in episodic]).sum()
        conflict = bool(dot < 0) and bool(norm > 0)
        if not conflict:
            return loss, {**logs, "projected": 0.0}
        factor = (dot / norm).detach()
        return loss - factor * (reference - reference.detach()), {**logs, "projected": 1.0}
