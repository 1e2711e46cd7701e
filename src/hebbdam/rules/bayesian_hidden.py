"""A Bayesian-Hebbian (BCPNN) hidden layer learned without labels (Ravichandran, Lansner & Herman 2020, the simplest
variant: no structural plasticity, each hidden hypercolumn sees a fixed random share of the pixels): each pixel x a
hypercolumn of two units (x, 1 − x), K hidden units in H = K/M hypercolumns of M, soft winner-take-all activity per
hypercolumn, probability traces moved towards batch means, weights log(p_ij/(p_i p_j)) and biases log p_j.

Kept as a plain loop on purpose: a local rule has no loss, optimiser or gradient for a Trainer to drive.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..settings.budget_classify import BayesianLayer


@dataclass(frozen=True)
class Bayesian:
    """A BCPNN hidden layer: ``weights`` (2D, K) and ``bias`` (K,) over the two-unit pixel code, ``hypercolumns`` H."""

    weights: Tensor
    bias: Tensor
    hypercolumns: int
    gain: float

    def activity(self, images: Tensor) -> Tensor:
        """(N, D) pixels in [0, 1] → (N, K): the soft winner-take-all of each hidden hypercolumn."""
        support = self.bias + pixel_code(images) @ self.weights
        rows = support.view(images.shape[0], self.hypercolumns, -1)
        return torch.softmax(self.gain * rows, dim=2).reshape(images.shape[0], -1)


def pixel_code(images: Tensor) -> Tensor:
    """(N, D) in [0, 1] → (N, 2D): each pixel a hypercolumn of two units, x and 1 − x."""
    return torch.cat([images, 1.0 - images], 1)


def bayesian_weights(
    p_i: Tensor, p_j: Tensor, p_ij: Tensor, floor: float, mask: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """w_ij = log(p_ij/(p_i p_j)) (2D, K) and b_j = log p_j (K,), with p ≥ ε and p_ij ≥ ε², w = 0 off the 0/1
    ``mask`` (2D, K)."""
    p_i, p_j, p_ij = p_i.clamp_min(floor), p_j.clamp_min(floor), p_ij.clamp_min(floor * floor)
    ratio = p_ij / torch.outer(p_i, p_j)
    weights, bias = ratio.log(), p_j.log()
    return (weights if mask is None else weights * mask), bias


@dataclass(frozen=True)
class Traces:
    """A BCPNN layer's probability traces: ``p_i`` (2D,) of the pixel code, ``p_j`` (K,) of the hidden units,
    ``p_ij`` (2D, K) of their co-activation, the receptive ``mask`` (2D, K) and the ``hypercolumns`` H."""

    p_i: Tensor
    p_j: Tensor
    p_ij: Tensor
    mask: Tensor
    hypercolumns: int

    def layer(self, layer: BayesianLayer) -> Bayesian:
        """The layer these traces define: weights log(p_ij/(p_i p_j)), biases log p_j."""
        weights, bias = bayesian_weights(self.p_i, self.p_j, self.p_ij, layer.floor, self.mask)
        return Bayesian(weights, bias, self.hypercolumns, layer.gain)

    def conditional_means(self) -> Tensor:
        """(K, D): p(x_i = 1 | unit j) = p_ij / p_j of the pixels' "on" units, clipped to [0, 1] (the image each
        hidden unit stands for, its activity-weighted mean of the images it won). p_j is not floored at ε here: a
        unit that never wins has both traces decay together, so it keeps the image it started from (ε would turn it
        into a blank image, which a cue hidden at the background value matches best)."""
        pixels = self.p_ij.shape[0] // 2
        tiny = torch.finfo(self.p_j.dtype).tiny
        return (self.p_ij[:pixels] / self.p_j.clamp_min(tiny)).clamp(0.0, 1.0).T


def learn_bayesian_traces(
    images: Tensor, units: int, layer: BayesianLayer, batch_size: int, generator: torch.Generator
) -> Traces:
    """The traces of K BCPNN hidden units learned from (N, D) pixels in [0, 1] without labels: they start at the
    data's pixel marginals, p_j = 1/M and p_ij = p_i p_j·exp(``noise``·N(0, 1)), then ``epochs`` shuffled passes in
    batches, each batch's soft-WTA activity (under the weights the current traces define) moving the traces at
    ``rate``."""
    inputs = pixel_code(images)
    p_i = inputs.mean(0)
    p_j = torch.full((units,), 1.0 / layer.minicolumns)
    p_ij = torch.outer(p_i, p_j) * torch.exp(layer.noise * torch.randn(inputs.shape[1], units, generator=generator))
    hypercolumns = units // layer.minicolumns
    mask = receptive_fields(images.shape[1], hypercolumns, layer.minicolumns, layer.connectivity, generator)
    for _ in range(layer.epochs):
        for rows in torch.randperm(inputs.shape[0], generator=generator).split(batch_size):
            current = Traces(p_i, p_j, p_ij, mask, hypercolumns).layer(layer)
            x, y = inputs[rows], current.activity(images[rows])
            p_i = p_i + layer.rate * (x.mean(0) - p_i)
            p_j = p_j + layer.rate * (y.mean(0) - p_j)
            p_ij = p_ij + layer.rate * (x.T @ y / rows.numel() - p_ij)
    return Traces(p_i, p_j, p_ij, mask, hypercolumns)


def learn_bayesian_layer(
    images: Tensor, units: int, layer: BayesianLayer, batch_size: int, generator: torch.Generator
) -> Bayesian:
    """K BCPNN hidden units learned from (N, D) pixels in [0, 1] without labels (:func:`learn_bayesian_traces`): the
    layer of their final traces."""
    return learn_bayesian_traces(images, units, layer, batch_size, generator).layer(layer)


def receptive_fields(
    pixels: int, hypercolumns: int, minicolumns: int, connectivity: float, generator: torch.Generator
) -> Tensor:
    """(2D, K) 0/1: each hidden hypercolumn connected to round(``connectivity``·D) random pixels (both units of each;
    all M units of the hypercolumn share the field), a fixed random draw (Ravichandran et al. rewire it by structural
    plasticity; here it stays as drawn)."""
    count = max(1, round(connectivity * pixels))
    chosen = torch.rand(hypercolumns, pixels, generator=generator).argsort(1)[:, :count]
    fields = torch.zeros(hypercolumns, pixels).scatter_(1, chosen, 1.0)  # (H, D)
    per_unit = fields.repeat_interleave(minicolumns, 0).T  # (D, K)
    return torch.cat([per_unit, per_unit], 0)
