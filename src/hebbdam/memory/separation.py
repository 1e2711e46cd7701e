"""Interaction functions F of a Dense Associative Memory, E = -Σ_μ F(x_μ), x_μ = ξ_μ·σ / D.

Besides F itself each separation gives ``flip_gain(x, shift) = F(x) - F(x + shift)`` up to a positive factor per
state (row): the sign of an energy difference is all a binary update needs, and the factor lets the exponential
subtract its largest exponent so nothing overflows in float32.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


class Separation:
    name: str

    def __call__(self, x: Tensor) -> Tensor:
        """F(x), elementwise."""
        raise NotImplementedError

    def flip_gain(self, x: Tensor, shift: Tensor | float) -> Tensor:
        """F(x) - F(x + shift), each row scaled by the same positive factor: (B, P) → (B, P)."""
        return self(x) - self(x + shift)


class Power(Separation):
    """F(x) = xⁿ (Krotov & Hopfield 2016), or ReLU(x)ⁿ when ``rectified``."""

    def __init__(self, n: int, rectified: bool = False):
        if isinstance(n, bool) or not isinstance(n, int) or n < 2:
            raise ValueError(f"n: expected an integer power ≥ 2, got {n!r}")
        self.n = n
        self.rectified = rectified
        self.name = f"{'rectified ' if rectified else ''}x^{n}"

    def __call__(self, x: Tensor) -> Tensor:
        return (torch.relu(x) if self.rectified else x) ** self.n


class Exponential(Separation):
    """F(x) = exp(β x) (Demircigil et al. 2017 with β = D on unscaled overlaps), evaluated stably."""

    def __init__(self, beta: float):
        if not beta > 0 or not math.isfinite(beta):
            raise ValueError(f"beta: expected a finite number > 0, got {beta!r}")
        self.beta = float(beta)
        self.name = f"exp({self.beta:g}·x)"

    def __call__(self, x: Tensor) -> Tensor:
        return torch.exp(self.beta * x)

    def flip_gain(self, x: Tensor, shift: Tensor | float) -> Tensor:
        # exp(βx) - exp(β(x+s)) = exp(βx) (1 - exp(βs)); divide each row by exp(β max x) to stay finite.
        logits = self.beta * x
        scale = torch.exp(logits - logits.amax(-1, keepdim=True))
        return -scale * torch.expm1(self.beta * torch.as_tensor(shift, dtype=x.dtype, device=x.device))
