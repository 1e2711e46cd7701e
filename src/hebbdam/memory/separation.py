"""Interaction functions F of a Dense Associative Memory, E = -Σ_μ F(x_μ), x_μ = ξ_μ·σ / D.

Besides F itself each separation gives ``flip_gain(x, shift) = F(x) - F(x + shift)`` up to a positive factor
per state (row): the sign of an energy difference is all a binary update needs, and the factor lets the
exponential subtract its largest exponent so nothing overflows in float32.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .base import integer_power


class Separation:
    name: str
    attracts_mirror: bool = False  # E(-σ) = E(σ): the mirror -ξ of a memory is an attractor too (score |overlap|)

    def __call__(self, x: Tensor) -> Tensor:
        """F(x), elementwise."""
        raise NotImplementedError

    def fields(self) -> dict:
        """Its parameters as explicit record fields (a figure reads these, never the ``name``)."""
        raise NotImplementedError

    def flip_gain(self, x: Tensor, shift: Tensor | float) -> Tensor:
        """F(x) - F(x + shift), each row scaled by the same positive factor: (B, P) → (B, P)."""
        return self(x) - self(x + shift)

    def odd_even(self, overlaps: Tensor, dim: int) -> tuple[Tensor, Tensor]:
        """Both parts of a flip of ``overlaps`` o (B, P) by ±2, x = o / D, h = 2 / D, up to one positive factor
        per row: odd = ½[F(x+h) - F(x-h)] (B, P) and the row sum of even = F(x) - ½[F(x+h) + F(x-h)] (B, 1).
        """
        x = overlaps / dim
        h = 2.0 / dim
        keep_if_aligned = self.flip_gain(x, -h)  # F(x) - F(x - h)
        keep_if_opposed = self.flip_gain(x, h)  # F(x) - F(x + h)
        odd = 0.5 * (keep_if_aligned - keep_if_opposed)
        even = 0.5 * (keep_if_aligned + keep_if_opposed)
        return odd, even.sum(-1, keepdim=True)

    def derivative(self, x: Tensor) -> Tensor:
        """f = F'(x), elementwise (the separation of the continuous update Σ_μ ξ_μ f(x_μ))."""
        raise NotImplementedError

    def log_total(self, x: Tensor) -> Tensor:
        """log Σ_μ F(x_μ) over the last axis, (B, P) → (B,), for F > 0; stable where F can overflow."""
        return torch.log(self(x).sum(-1))


HORNER_MAX_POWER = 8  # above this the generic difference is used (Horner costs one pass per degree)


def _horner_in_square(o: Tensor, coefs: list[float], degree: int) -> Tensor:
    """Σ_j coefs[j] o^{degree - 2j}: Horner in o², times o when ``degree`` is odd; one new (B, P) tensor."""
    if len(coefs) == 1:
        acc = torch.full_like(o, coefs[0])
    else:
        acc = torch.addcmul(torch.full((), coefs[1], dtype=o.dtype, device=o.device), o, o, value=coefs[0])
        for c in coefs[2:]:
            acc.mul_(o).mul_(o).add_(c)
    return acc.mul_(o) if degree % 2 else acc


class Power(Separation):
    """F(x) = xⁿ (Krotov & Hopfield 2016), or ReLU(x)ⁿ when ``rectified``."""

    def __init__(self, n: int, rectified: bool = False):
        if isinstance(n, bool) or not isinstance(n, int) or n < 2:
            raise ValueError(f"n: expected an integer power ≥ 2, got {n!r}")
        self.n = n
        self.rectified = rectified
        self.attracts_mirror = n % 2 == 0 and not rectified  # an even plain power is symmetric under σ → -σ
        self.name = f"{'rectified ' if rectified else ''}x^{n}"

    def __call__(self, x: Tensor) -> Tensor:
        # repeated products, not torch.pow: exact for integer overlaps in float64, and the same rounding on any CPU
        return integer_power(torch.relu(x) if self.rectified else x, self.n)

    def fields(self) -> dict:
        return {"n": self.n, "rectified": self.rectified}

    def odd_even(self, overlaps: Tensor, dim: int) -> tuple[Tensor, Tensor]:
        # Binomial expansion in the raw overlaps o = D x:  odd = Σ_{k odd} C(n,k) hᵏ D^{k-n} o^{n-k},
        # even = -Σ_{k even ≥ 2} C(n,k) hᵏ D^{k-n} o^{n-k}. Within each sum every term has the same sign (no
        # cancellation, unlike F(x+h) - F(x-h)); odd is Horner in o² (its first step one addcmul), the even row
        # sum needs only power sums of o. For n ≤ 3 that is two passes over (B, P) besides the two matmuls.
        if self.rectified or self.n > HORNER_MAX_POWER:
            return super().odd_even(overlaps, dim)
        n, h = self.n, 2.0 / dim
        odd_coefs = [math.comb(n, k) * h**k / dim ** (n - k) for k in range(1, n + 1, 2)]  # o^{n-1}, o^{n-3}, …
        odd = _horner_in_square(overlaps, odd_coefs, n - 1)
        even_sum = torch.zeros(overlaps.shape[0], 1, dtype=overlaps.dtype, device=overlaps.device)
        for k in range(2, n + 1, 2):
            power = n - k
            if power == 0:
                total = torch.full_like(even_sum, float(overlaps.shape[1]))
            elif power == 1:
                total = overlaps.sum(-1, keepdim=True)
            elif power == 2:
                total = torch.linalg.vector_norm(overlaps, dim=-1, keepdim=True).square()
            else:
                total = overlaps.pow(power).sum(-1, keepdim=True)
            even_sum -= math.comb(n, k) * h**k / dim**power * total
        return odd, even_sum

    def derivative(self, x: Tensor) -> Tensor:
        return self.n * integer_power(torch.relu(x) if self.rectified else x, self.n - 1)


class Exponential(Separation):
    """F(x) = exp(β x) (Demircigil et al. 2017 with β = D on unscaled overlaps), evaluated stably."""

    def __init__(self, beta: float):
        if not beta > 0 or not math.isfinite(beta):
            raise ValueError(f"beta: expected a finite number > 0, got {beta!r}")
        self.beta = float(beta)
        self.name = f"exp({self.beta:g}·x)"

    def __call__(self, x: Tensor) -> Tensor:
        return torch.exp(self.beta * x)

    def fields(self) -> dict:
        return {"beta": self.beta}

    def derivative(self, x: Tensor) -> Tensor:
        return self.beta * torch.exp(self.beta * x)

    def log_total(self, x: Tensor) -> Tensor:
        return torch.logsumexp(self.beta * x, dim=-1)

    def flip_gain(self, x: Tensor, shift: Tensor | float) -> Tensor:
        # exp(βx) - exp(β(x+s)) = exp(βx) (1 - exp(βs)); divide each row by exp(β max x) to stay finite.
        logits = self.beta * x
        scale = torch.exp(logits - logits.amax(-1, keepdim=True))
        return -scale * torch.expm1(self.beta * torch.as_tensor(shift, dtype=x.dtype, device=x.device))
