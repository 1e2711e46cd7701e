"""Objectives for learning tasks one after another (E7), wrapping a task's own objective (e.g. ``Denoising``):

- :class:`ElasticAnchor`: elastic weight consolidation (Kirkpatrick et al. 2017), online form: the task's loss plus
  ½λ Σ_i F_i (θ_i − θ*_i)², θ* the parameters after the previous task and F the sum over the previous tasks of the
  diagonal Fisher information of the recall (:func:`diagonal_fisher`, each task's at its own end);
- :class:`EpisodicConstraints`: gradient episodic memory: GEM (Lopez-Paz & Ranzato 2017), one episodic memory per
  earlier task k with its gradient g_k; where the task's gradient g conflicts with any (g·g_k < 0) it is replaced by
  its projection onto the cone {z : z·g_k ≥ 0 for every k}, g̃ = g + Σ_k v_k g_k, v the solution of the dual
  quadratic program (:func:`cone_weights`, solved exactly: at most a handful of constraints); A-GEM (Chaudhry et al.
  2019), the same with one episodic memory, the earlier tasks' buffer whole: g̃ = g − (g·r / r·r) r where g·r < 0.

All are nonlocal: a synapse's update reads every other synapse's gradient (the projection) or a per-synapse
importance computed by backprop (the anchor). Each wraps an objective with ``loss(memory, batch, generator)`` (the
episodic one also with ``row_losses``).
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
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


def cone_weights(gram: Tensor, dots: Tensor) -> Tensor:
    """GEM's dual program, solved exactly: v ≥ 0 minimising ½ vᵀ A v + bᵀ v, with ``gram`` A = G Gᵀ (k, k) and
    ``dots`` b = G g (k,), G (k, n) the episodic gradients and g the task's; then g̃ = g + Gᵀ v is the point of the
    cone {z : G z ≥ 0} nearest g. Solved in the rows' own units (A' = A / ddᵀ, b' = b / d, v' = v d with d the
    norms √A_ii: a constraint counts the same whatever its gradient's size) in float64 NumPy, A' with a ridge of 10⁻⁹
    (linearly dependent gradients). Active sets S are tried, smallest first and the violated constraints' (b_i < 0)
    first among them: v'_S solves A'_SS v'_S = −b'_S, and the first set whose v'_S ≥ 0 and (A' v' + b')_i ≥ 0 off S
    (the KKT conditions) is the answer, the set with the smallest violation kept where rounding leaves none exact.
    Returns v (k,) float64, on the CPU."""
    size = len(dots)
    a, b = gram.detach().double().cpu().numpy(), dots.detach().double().cpu().numpy()
    if b.min() >= 0:
        return torch.zeros(size, dtype=torch.float64)  # g is in the cone already
    norms = np.sqrt(np.clip(np.diag(a), 0.0, None))
    norms[norms == 0] = 1.0  # a zero gradient constrains nothing (its b is 0)
    a, b = a / np.outer(norms, norms) + 1e-9 * np.eye(size), b / norms
    tolerance = 1e-12 * (1.0 + float(np.abs(b).max()))
    sets = sorted(
        (list(s) for count in range(1, size + 1) for s in combinations(range(size), count)),
        key=lambda chosen: (len(chosen), not all(b[i] < 0 for i in chosen)),
    )
    best, best_violation = np.zeros(size), float(-b.min())  # S empty: v = 0, A v + b = b
    for chosen in sets:
        v = np.zeros(size)
        v[chosen] = np.linalg.solve(a[np.ix_(chosen, chosen)], -b[chosen])
        slack = a @ v + b
        slack[chosen] = 0.0  # the active constraints hold with equality
        violation = max(0.0, -v.min(), -slack.min())
        if violation < best_violation:
            best, best_violation = v, violation
        if violation <= tolerance:
            break
    return torch.from_numpy(best / norms)


class EpisodicConstraints:
    """Gradient episodic memory: the task's loss L, its gradient g replaced, where it raises the loss of any of the
    ``episodes`` (one (M_k, D) memory each; none: the plain loss), by the nearest gradient that raises none,
    g̃ = g + Σ_k v_k g_k (:func:`cone_weights`). GEM (Lopez-Paz & Ranzato 2017) keeps one episode per earlier task;
    A-GEM (Chaudhry et al. 2019) one episode, the whole buffer, so that g̃ = g − (g·r / r·r) r where g·r < 0.
    ``objective`` needs ``row_losses`` (rows recalled independently): the task's batch and every episode go through
    one forward pass and one batched backward pass (their gradients the rows of a Jacobian), and the returned scalar
    has L's value and gradient g̃ (:func:`stepping_along`: the optimiser's backward pass recomputes nothing)."""

    def __init__(self, objective, episodes: list[Tensor], name: str = "gem"):
        self.objective, self.name = objective, name
        self.episodes = [episode for episode in episodes if episode.shape[0]]

    def loss(self, memory: nn.Module, batch: tuple[Tensor, ...], generator: torch.Generator) -> tuple[Tensor, dict]:
        if not self.episodes:
            return self.objective.loss(memory, batch, generator)
        task = batch[0]
        rows = torch.cat([task, *(episode.to(task.device) for episode in self.episodes)])
        sizes = [task.shape[0], *(episode.shape[0] for episode in self.episodes)]
        losses = torch.stack([part.mean() for part in self.objective.row_losses(memory, rows, generator).split(sizes)])
        parameters = trained(memory)
        jacobian = torch.autograd.grad(
            losses,
            parameters,
            grad_outputs=torch.eye(len(sizes), dtype=losses.dtype, device=losses.device),
            is_grads_batched=True,
        )
        gradients = torch.cat([part.reshape(len(sizes), -1) for part in jacobian], dim=1)  # (1 + k, n)
        own, episodic = gradients[0], gradients[1:]
        dots = episodic @ own
        if bool((dots >= 0).all()):
            return stepping_along(losses[0], parameters, own), {"projected": 0.0}
        weights = cone_weights(episodic @ episodic.T, dots).to(own)
        return stepping_along(losses[0], parameters, own + weights @ episodic), {"projected": 1.0}


def stepping_along(loss: Tensor, parameters: list[nn.Parameter], direction: Tensor) -> Tensor:
    """A scalar with ``loss``'s value whose gradient over ``parameters`` is ``direction`` (n,), the parameters'
    gradients flattened and concatenated in order: L + (θ·d − sg(θ·d)), linear in θ, so its backward pass reads d and
    recomputes nothing."""
    pieces = direction.split([parameter.numel() for parameter in parameters])
    linear = torch.stack([(p * d.view_as(p)).sum() for p, d in zip(parameters, pieces, strict=True)]).sum()
    return loss.detach() + (linear - linear.detach())  # x − x is exactly 0: the value is the loss's, bit for bit
