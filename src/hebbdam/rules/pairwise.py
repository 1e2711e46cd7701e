"""Rules for pairwise weights beyond one-shot Hebb: Storkey, pseudo-inverse, dreaming, delta / perceptron.

All keep the diagonal at zero in the weights they hand to a Hopfield network (otherwise every state looks stable).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..memory.base import integer_numerators
from .base import Rule, register, register_factory


def storkey_update(weights: Tensor, patterns: Tensor) -> Tensor:
    """Storkey 1997, one pattern after another: ΔW_ij = (ξ_iξ_j - ξ_i h_ji - h_ij ξ_j) / D,
    h_ij = Σ_{k≠i,j} W_ik ξ_k. (D, D), (B, D) → (D, D) with zero diagonal.

    With W symmetric and zero-diagonal, h_ij = h_i - W_ij ξ_j where h = Wξ, so each pattern is a rank-2 update.

    The same weights on every CPU: h is a float64 sum of the stored (float32) weights times ±1, exact in any order
    while the weights span < 2²⁸ in magnitude, and the update is elementwise float64 rounded once to the stored
    dtype (a float32 product would round differently under each vector width and thread count).
    """
    dim = patterns.shape[1]
    dtype = weights.dtype
    weights = weights.clone().fill_diagonal_(0.0)
    for xi in patterns.double():  # incremental: each pattern sees the weights left by the previous one
        w = weights.double()
        h = w @ xi
        sq = xi * xi
        delta = (
            torch.outer(xi, xi)
            - torch.outer(xi, h)
            - torch.outer(h, xi)
            + w.T * sq[:, None]  # ξ_i W_ji ξ_i: the k = i term removed from h_j
            + w * sq[None, :]  # W_ij ξ_j ξ_j: the k = j term removed from h_i
        )
        weights = (w + delta / dim).to(dtype).fill_diagonal_(0.0)
    return weights


STORKEY = register(Rule(name="storkey", locality="local", target="pairwise", update=storkey_update))


# pseudo-inverse ---------------------------------------------------------------------------------------------
def projection_update(projector: Tensor, patterns: Tensor, tol: float = 1e-6) -> Tensor:
    """Extend the orthogonal projector onto span(stored patterns) by a batch (Personnaz et al. 1985):
    E = X - X P (residuals), P ← P + Eᵀ (E Eᵀ)⁺ E. The state keeps its diagonal; ``finalize`` zeroes it.
    (D, D), (B, D) → (D, D). Non-local: the step normalises by the residual Gram matrix of the whole batch.
    """
    p64 = projector.double()
    x = patterns.double()
    residual = x - x @ p64
    gram = residual @ residual.T
    scale = max(float(x.pow(2).sum(1).max()), 1.0)
    extra = residual.T @ torch.linalg.pinv(gram, rtol=tol, hermitian=True, atol=tol * scale) @ residual
    return (p64 + extra).to(projector.dtype)


def zero_diagonal(weights: Tensor) -> Tensor:
    return weights.clone().fill_diagonal_(0.0)


PSEUDO_INVERSE = register(
    Rule(
        name="pseudo_inverse",
        locality="nonlocal",
        target="pairwise",
        update=projection_update,
        finalize=zero_diagonal,
    )
)


def pseudo_inverse_weights(patterns: Tensor) -> Tensor:
    """Closed form W = Ξᵀ(ΞΞᵀ)⁻¹Ξ (full diagonal kept), for checking the incremental rule. (P, D) → (D, D)."""
    x = patterns.double()
    return (x.T @ torch.linalg.pinv(x @ x.T, hermitian=True) @ x).to(patterns.dtype)


# dreaming ---------------------------------------------------------------------------------------------------
def hebb_full(weights: Tensor, patterns: Tensor) -> Tensor:
    """K + ΞᵀΞ / D keeping the diagonal (the awake phase of dreaming). (D, D), (B, D) → (D, D). The products are
    float64 (integers for ±1 patterns), added elementwise: the same K on every CPU."""
    products = patterns.double().T @ patterns.double()
    return (weights.double() + products / patterns.shape[1]).to(weights.dtype)


def dreaming_weights(hebb: Tensor, t: float) -> Tensor:
    """J(t) = (1+t) K (I + tK)⁻¹, K = ΞᵀΞ/D: the closed form J(t) = D⁻¹ Ξᵀ (1+t)(I + tC)⁻¹ Ξ, C = ΞΞᵀ/D
    (Fachechi, Agliari & Barra 2019), rewritten by Ξᵀ(I + tΞΞᵀ/D)⁻¹Ξ = ΞᵀΞ (I + tΞᵀΞ/D)⁻¹ so only the (D, D)
    Hebbian matrix is needed. (D, D) → (D, D), full diagonal."""
    k = hebb.double()
    eye = torch.eye(k.shape[0], dtype=k.dtype, device=k.device)
    return ((1.0 + t) * torch.linalg.solve(eye + t * k, k)).to(hebb.dtype)  # K and (I+tK)⁻¹ commute


def sleep(hebb: Tensor, t: float, steps: int) -> Tensor:
    """Integrate the sleep dynamics dJ/dt = (J - J²)/(1+t) from J(0) = K to J(t) with ``steps`` Euler steps in
    u = ln(1+t) (dJ/du = J - J²). The step is local: J - J² = ⟨h sᵀ⟩ - ⟨h hᵀ⟩ over sleep states s with
    ⟨s sᵀ⟩ = I and local fields h = Js (Hebbian on the dream, anti-Hebbian on the fields); the expectation is taken
    exactly over the basis states. (D, D) → (D, D), full diagonal."""
    j = hebb.double()
    du = math.log1p(t) / steps
    for _ in range(steps):
        j = j + du * (j - j @ j)
    return j.to(hebb.dtype)


def dreaming(t: float = 10.0) -> Rule:
    return Rule(
        name="dreaming",
        locality="nonlocal",
        target="pairwise",
        update=hebb_full,
        finalize=lambda k: zero_diagonal(dreaming_weights(k, t)),
        combine="sum",
        hyper={"t": t},
    )


def dreaming_sleep(t: float = 10.0, steps: int = 200) -> Rule:
    return Rule(
        name="dreaming_sleep",
        locality="local",
        target="pairwise",
        update=hebb_full,
        finalize=lambda k: zero_diagonal(sleep(k, t, steps)),
        combine="sum",
        hyper={"t": t, "steps": steps},
    )


register_factory("dreaming", dreaming)
register_factory("dreaming_sleep", dreaming_sleep)


# delta / perceptron -----------------------------------------------------------------------------------------
def perceptron_update(weights: Tensor, patterns: Tensor, lr: float, margin: float) -> Tensor:
    """Batch perceptron with margin (Gardner 1988), each neuron its own perceptron:
    ΔW_ij = (lr / D) Σ_μ [ξ_μi h_μi < margin] ξ_μi ξ_μj, h = ΞWᵀ. Zero diagonal, W not symmetric.
    (D, D), (B, D) → (D, D). Local: neuron i uses its own target ξ_i, its field h_i and the input ξ_j.

    Exact for ±1 patterns: W = (lr / D) K with an integer K (recovered from the stored W), fields are computed on K
    in float64 and W is scaled once at the end, so the margin test is the same on every CPU."""
    x = patterns.double()
    unit = lr / patterns.shape[1]
    counts = integer_numerators(weights, 1.0 / unit)  # from W = 0 every W is lr/D times an integer matrix K
    units = weights.double() / unit if counts is None else counts
    fields = x @ units.T  # h / (lr / D): exact integers for ±1 patterns, in any summation order
    wrong = (x * fields < margin / unit).double()  # a field exactly at the margin has met it, on every CPU
    return ((units + (wrong * x).T @ x) * unit).to(weights.dtype).fill_diagonal_(0.0)


def delta(lr: float = 1.0, margin: float = 1.0) -> Rule:

    def update(weights: Tensor, patterns: Tensor) -> Tensor:
        return perceptron_update(weights, patterns, lr, margin)

    return Rule("delta", "local", "pairwise", update, hyper={"lr": lr, "margin": margin})


register_factory("delta", delta)
