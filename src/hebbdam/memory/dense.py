"""Dense Associative Memory (Krotov & Hopfield 2016; Demircigil et al. 2017) over ±1 states."""

from __future__ import annotations

from decimal import Context

import torch
from torch import Tensor

from .base import EXACT_INTEGER_LIMIT, BinaryMemory, check_matrix, is_bipolar
from .core import project, unit_activity
from .exponential import exponential_field, exponential_field_at
from .registry import MemoryKind, register_kind
from .separation import Exponential, Power, Separation

# elements of the (B, chunk, P) temporary of the exact field for non-bipolar memories
EXACT_FIELD_BLOCK = 1 << 22


class DenseAM(BinaryMemory):
    """E(σ) = -Σ_μ F(ξ_μ·σ / D). ``memories`` Ξ (P, D); ``separation`` is F.

    With ±1 memories, flipping σ_i changes every overlap by -2 ξ_μi σ_i / D, and ξ_μi σ_i = ±1, so the energy
    difference splits into a part even and a part odd in ξ_μi; the synchronous field of all D neurons is two
    matmuls:
        field = b(X) Ξ + σ ⊙ Σ_μ a(X),  X = S Ξᵀ / D,
        a = ½[F(x) - F(x-h) + F(x) - F(x+h)],  b = ½[(F(x) - F(x-h)) - (F(x) - F(x+h))],  h = 2/D.
    That identity needs ξ_μi ∈ {±1}. Real-valued memories (e.g. trained by backprop) fall back to the exact
    energy difference of each flip, computed in chunks of neurons (B × chunk × P at a time): slower, same
    meaning.

    Exact fields (``exact``): for ±1 memories and a power F (plain or rectified), F(o / D) = F(o) / Dⁿ, so the field
    times 2Dⁿ is an integer polynomial of the integer overlaps o = ξ·σ (:meth:`integer_field`), computed in float64
    exactly (in any summation order) while 6 P (D + 2)ⁿ < 2⁵³: e.g. D = 100, P = 2000, n ≤ 5 (6 · 2000 · 102⁵ ≈
    1.3e14), D = 1000 only for n ≤ 3 with P ≤ 1.4e5 (n = 4 needs P < 1.5e3, n = 5 not at all). A zero field is then
    a true tie on every CPU. The exponential on ±1 memories groups its terms by integer exponent
    (:mod:`hebbdam.memory.exponential`): exact ties, the same float on every CPU. Beyond the power's bound and for
    real-valued memories the field is a float computed by matrix products (reproducible to a tolerance).
    """

    memories: Tensor  # (P, D), a registered buffer

    def __init__(self, memories: Tensor, separation: Separation):
        super().__init__()
        check_matrix(memories, "memories")
        if not isinstance(separation, Separation):
            raise ValueError(f"separation: expected a Separation (Power, Exponential), got {type(separation).__name__}")
        self.dim = memories.shape[1]
        self.separation = separation
        self.bipolar_memories = is_bipolar(memories)
        self.register_buffer("memories", memories)
        self.exact = (
            self.bipolar_memories
            and isinstance(separation, Power)
            and 6.0 * memories.shape[0] * float(self.dim + 2) ** separation.n < EXACT_INTEGER_LIMIT
        )
        # the exponential on ±1 memories: fields grouped by integer exponent (memory.exponential), exact ties
        self.exact_exponential = self.bipolar_memories and isinstance(separation, Exponential)

    def overlaps(self, states: Tensor) -> Tensor:
        """(B, D) → (B, P) raw overlaps ξ_μ·σ (integers for bipolar inputs, kept exact in the cache)."""
        return states @ self.memories.T

    def energy(self, states: Tensor) -> Tensor:
        """(B, D) → (B,). May overflow for a steep exponential F: use :meth:`log_energy` there."""
        return -self.separation(self.overlaps(states) / self.dim).sum(-1)

    def log_energy(self, states: Tensor) -> Tensor:
        """(B, D) → (B,) log(-E) = log Σ_μ F(x_μ), finite for the exponential at any β (F > 0 needed).

        Monotone decreasing in E, so it orders states the same way; exp(βx) at β = 1000 overflows E, not this.
        """
        return self.separation.log_total(self.overlaps(states) / self.dim)

    def update(self, states: Tensor) -> Tensor:
        """(B, D) → (B, D): the continuous one-step update Σ_μ ξ_μ f(ξ_μ·σ / D), f = F' (equals -D ∇E)."""
        return self.separation.derivative(self.overlaps(states) / self.dim) @ self.memories

    def field(self, states: Tensor) -> Tensor:
        if self.exact and isinstance(self.separation, Power):  # scaled once (positive factor: sign, zero stay exact)
            return (self.integer_field(states) / (2.0 * float(self.dim) ** self.separation.n)).to(states.dtype)
        # F(o/D) = exp(β o / D): 2 sinh(β/D) Σ_μ ξ_μi exp(β r_μi / D), float64
        if self.exact_exponential and isinstance(self.separation, Exponential):
            beta = self.separation.beta / self.dim
            return exponential_field(states, self.memories, self.memories, beta) * _twice_sinh(beta)
        if not self.bipolar_memories:
            return self.exact_field(states)
        odd, even_sum = self.separation.odd_even(self.overlaps(states), self.dim)
        return torch.addmm(states * even_sum, odd, self.memories)

    def integer_field(self, states: Tensor) -> Tensor:
        """(B, D) → (B, D) float64: 2Dⁿ × the field of a power F on ±1 memories, an exact integer (``exact``).

        Flipping σ_i moves o_μ by ±2 ξ_μi; with u = F(o) - F(o - 2), v = F(o + 2) - F(o) the energy difference is
        Σ_μ ξ_μi (u + v)_μ / 2 + σ_i Σ_μ (u - v)_μ / 2, so 2 × field = (F(o+2) - F(o-2)) Ξ + σ ⊙ Σ_μ (2F(o) - F(o+2) -
        F(o-2)): two integer polynomials and one product of integers.
        """
        memories = self.columns("memories", torch.float64).T  # (P, D) float64, cached
        sigma = states.double()
        overlaps = sigma @ memories.T  # (B, P) integers
        up, down = self.separation(overlaps + 2.0), self.separation(overlaps - 2.0)
        even = (2.0 * self.separation(overlaps) - up - down).sum(-1, keepdim=True)
        return torch.addmm(sigma * even, up - down, memories)

    def exact_field(self, states: Tensor) -> Tensor:
        """(B, D) → (B, D): Σ_μ F(x_μ with σ_i=+1) - F(x_μ with σ_i=-1) for any real memories, in neuron
        chunks."""
        batch, dim = states.shape
        count = self.memories.shape[0]
        x = (self.overlaps(states) / dim)[:, None, :]  # (B, 1, P)
        chunk = max(1, EXACT_FIELD_BLOCK // max(1, batch * count))
        parts = []
        for start in range(0, dim, chunk):
            xi = self.memories.T[start : start + chunk][None] / dim  # (1, c, P): ξ_μi / D
            sigma = states[:, start : start + chunk, None]  # (B, c, 1)
            to_plus = self.separation.flip_gain(x, (1.0 - sigma) * xi)  # F(x) - F(x⁽ⁱ⁺⁾)
            to_minus = self.separation.flip_gain(x, -(sigma + 1.0) * xi)  # F(x) - F(x⁽ⁱ⁻⁾)
            parts.append((to_minus - to_plus).sum(-1))
        return torch.cat(parts, dim=1)

    def sweep_fields(self, states: Tensor) -> Tensor | None:
        """(B, D) → (B, D) float64 :meth:`integer_field` for an ``exact`` power, else None.

        Not for the exponential: its grouped field of one state costs D one-neuron fields, so refreshing it per flip
        lost to the per-neuron sweep (measured 5.3 s vs 0.79 s at D = 18, P = 1152, 10% flipped starts). Not for float
        fields either: a product could round a near-tie differently from :meth:`field_at`."""
        return self.integer_field(states) if self.exact else None

    def cache(self, states: Tensor) -> Tensor:
        return self.overlaps(states)

    def field_at(self, cache: Tensor, states: Tensor, index: Tensor) -> Tensor:
        # exact for any real memories: flipping σ_i moves overlap μ by -2 ξ_μi σ_i
        sigma = states.gather(1, index[:, None])  # (B, 1)
        if self.exact_exponential and isinstance(self.separation, Exponential):
            column = self.columns("memories")[index]  # ξ_μi, (B, P)
            beta = self.separation.beta / self.dim
            return exponential_field_at(cache, column, sigma[:, 0], beta, self.dim) * _twice_sinh(beta)
        aligned = self.columns("memories")[index] * sigma  # ξ_μi σ_i, (B, P)
        if self.exact:
            # F is homogeneous (F(o/D) = F(o)/Dⁿ): the sign needs no 1/D, and on the raw overlaps in float64 every
            # gain of ±1 memories is an exact integer (``exact``), so a flip of zero energy change is exactly a tie.
            gain = self.separation.flip_gain(cache.double(), -2.0 * aligned.double()).sum(-1)
        else:
            gain = self.separation.flip_gain(cache / self.dim, -2.0 * aligned / self.dim).sum(-1)
        return sigma[:, 0] * gain

    def after_flip(self, cache: Tensor, index: Tensor, delta: Tensor) -> Tensor:
        return cache + delta[:, None] * self.columns("memories")[index]


class KeyedDenseAM(BinaryMemory):
    """A DAM whose K hidden units read the state through ``keys`` (K, D) and write ``values`` (K, D) ±1:
    σ ← sgn(Σ_μ v_μ w_μ(σ)), w = F'(k·σ / D) for a power F, softmax(β k·σ / D) for the exponential (the same sign:
    a positive factor per state). With keys = values it is the continuous one-step update of :class:`DenseAM` read
    by its sign. Pseudo-inverse slots (``rules.prototypes.projection_keys``: keys the dual basis of the K slots,
    k_μ·ξ_ν = D δ_μν) make every stored slot a fixed point whose field is exactly F'(1)·ξ_ν: no crosstalk."""

    keys: Tensor  # (K, D), a registered buffer
    values: Tensor  # (K, D) ±1, a registered buffer

    def __init__(self, keys: Tensor, values: Tensor, separation: Separation):
        super().__init__()
        check_matrix(keys, "keys")
        check_matrix(values, "values")
        if values.shape != keys.shape:
            raise ValueError(f"values: expected the keys' shape {tuple(keys.shape)}, got {tuple(values.shape)}")
        if not isinstance(separation, Separation):
            raise ValueError(f"separation: expected a Separation (Power, Exponential), got {type(separation).__name__}")
        self.dim = keys.shape[1]
        self.separation = separation
        self.register_buffer("keys", keys)
        self.register_buffer("values", values)

    def activity(self, states: Tensor) -> Tensor:
        """(B, D) → (B, K) hidden activities w_μ(σ) ≥ 0 (``memory.core.unit_activity``: softmax for the exponential,
        finite at any β)."""
        return unit_activity(states @ self.keys.T / self.dim, self.separation)

    def field(self, states: Tensor) -> Tensor:
        return project(self.activity(states), self.values)


def _twice_sinh(beta: float) -> float:
    """2 sinh β, from 40 digits (the same float on every machine)."""
    context = Context(prec=40)
    x = context.create_decimal_from_float(beta)
    return float(context.exp(x) - context.exp(-x))


def _from_slots(stored: Tensor, dim: int, options: dict, separation: Separation | None) -> DenseAM:
    if separation is None:
        raise ValueError("memory dense: a separation function F is required")
    return DenseAM(stored, separation)


register_kind(
    MemoryKind(
        "dense",
        ("slots", "hidden"),
        _from_slots,
        lambda dim, size: size * dim,
        (DenseAM,),
        "a DAM memory matrix Ξ (P, D) (slots, or K hidden units)",
    )
)
