"""Sequence memories (Chaudhry, Zavatone-Veth, Krotov & Pehlevan 2023): asymmetric maps to the next pattern.

    S_i ← sgn(Σ_μ ξ_{μ+1,i} f(m_μi)),  m_μi = (ξ_μ·S - ξ_μi S_i) / (D - 1)   (self-coupling excluded)
f(x) = x (SeqNet), x^d (polynomial DenseNet), e^{(D-1)(x-1)} (exponential DenseNet). MixedNet adds a symmetric
term Σ_μ ξ_μi f_S(m_μi) that holds the current pattern against the asymmetric push λ Σ_μ ξ_{μ+1,i} f_A(m_μi).

With ±1 patterns and states, ξ_μi S_i = ±1, so m_μi takes two values per (b, μ): (o_μ ∓ 1)/(D - 1), o = S Ξᵀ.
The field splits into two matmuls, as in :class:`DenseAM`:
    field = ½ (g₊ + g₋) T + ½ S ⊙ ((g₊ - g₋) (T ⊙ Ξ)),  g₊ = f((o - 1)/(D - 1)), g₋ = f((o + 1)/(D - 1)),
T the targets (Ξ shifted by one for the asymmetric term). No energy: these networks are not symmetric.

Exact fields: for f = x^d (linear: d = 1) the term times 2(D - 1)^d is an integer polynomial of the integer
overlaps, (o - 1)^d and (o + 1)^d, computed in float64 exactly (any summation order) while 4 P (D + 1)^d < 2⁵³, and
scaled once at the end; a tied field is then exactly 0 on every CPU and keeps the current bit (``sign_keep``). The
exponential f groups its terms by integer exponent (:mod:`hebbdam.memory.exponential`): exact ties, the same float
on every CPU. A MixedNet adds its two terms elementwise in float64 (the same on every CPU).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import EXACT_INTEGER_LIMIT, Memory, check_matrix, integer_power, sign_keep
from .exponential import exponential_field
from .registry import register_kind, slot_kind

KINDS = ("linear", "polynomial", "exponential")


def _check_transfer(kind: str, degree: int, name: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"{name}: expected one of {', '.join(KINDS)}, got {kind!r}")
    if kind == "polynomial" and (isinstance(degree, bool) or not isinstance(degree, int) or degree < 1):
        raise ValueError(f"degree: expected an integer ≥ 1 for a polynomial {name}, got {degree!r}")


def _transfer_pair(overlaps: Tensor, dim: int, degree: int) -> tuple[Tensor, Tensor]:
    """(g₊, g₋) = f((o ∓ 1)/(D-1)) for f = x^degree, in floats (beyond the exact bound of :func:`_integer_term`)."""
    scale = 1.0 / (dim - 1)
    minus, plus = (overlaps - 1.0) * scale, (overlaps + 1.0) * scale
    return integer_power(minus, degree), integer_power(plus, degree)


def _integer_term(states: Tensor, sources: Tensor, targets: Tensor, degree: int) -> Tensor:
    """(B, D) → (B, D) float64: 2(D - 1)^d × the term Σ_μ T_μi f(m_μi) of f = x^d, an exact integer.

    With o = S Ξᵀ (integers), g₊ = (o - 1)^d, g₋ = (o + 1)^d: (g₊ + g₋) T + S ⊙ ((g₊ - g₋)(T ⊙ Ξ)).
    """
    sigma, sources, targets = states.double(), sources.double(), targets.double()
    overlaps = sigma @ sources.T
    plus, minus = integer_power(overlaps - 1.0, degree), integer_power(overlaps + 1.0, degree)
    return torch.addcmul((plus + minus) @ targets, sigma, (plus - minus) @ (targets * sources))


class SequenceMemory(Memory):
    """A sequence ξ_1 → ξ_2 → … stored in asymmetric couplings. ``patterns`` Ξ (P, D), ±1, in sequence order.

    ``kind`` linear (SeqNet), polynomial (DenseNet, f = x^degree) or exponential (DenseNet, f =
    e^{(D-1)(x-1)}).
    ``cyclic``: ξ_P → ξ_1 (P transitions); otherwise P - 1 transitions. ``symmetric`` > 0 adds a MixedNet
    symmetric term with weight ``symmetric`` and its own ``symmetric_kind``/``symmetric_degree``.
    """

    bipolar = True

    patterns: Tensor  # buffer
    sources: Tensor  # buffer
    targets: Tensor  # buffer

    def __init__(
        self,
        patterns: Tensor,
        kind: str = "linear",
        degree: int = 1,
        cyclic: bool = True,
        symmetric: float = 0.0,
        symmetric_kind: str = "polynomial",
        symmetric_degree: int = 1,
    ):
        super().__init__()
        check_matrix(patterns, "patterns", bipolar=True)
        if patterns.shape[1] < 2:
            raise ValueError(f"patterns: expected D ≥ 2 neurons, got {patterns.shape[1]}")
        _check_transfer(kind, degree, "kind")
        if symmetric < 0:
            raise ValueError(f"symmetric: expected a weight ≥ 0, got {symmetric!r}")
        if symmetric > 0:
            _check_transfer(symmetric_kind, symmetric_degree, "symmetric_kind")
            if (symmetric_kind == "exponential") != (kind == "exponential"):
                raise ValueError("symmetric_kind: an exponential term can only be mixed with another exponential")
        self.dim = patterns.shape[1]
        self.kind, self.degree, self.cyclic = kind, degree, cyclic
        self.symmetric, self.symmetric_kind, self.symmetric_degree = (
            float(symmetric),
            symmetric_kind,
            symmetric_degree,
        )
        sources = patterns if cyclic else patterns[:-1]
        targets = torch.roll(patterns, -1, dims=0) if cyclic else patterns[1:]
        self.register_buffer("patterns", patterns)
        self.register_buffer("sources", sources)
        self.register_buffer("targets", targets)

    def _term(self, states: Tensor, targets: Tensor, kind: str, degree: int) -> Tensor:
        """(B, D) → (B, D) float64: Σ_μ T_μi f(m_μi) for one transfer f (exponential: up to e^{-max o} per state)."""
        if kind == "exponential":  # e^{(D-1)(m-1)} = e^{o - ξ_μi S_i - (D-1)}: grouped by integer exponent
            return exponential_field(states, self.sources, targets, 1.0)
        if kind == "linear":
            degree = 1
        if 4.0 * self.sources.shape[0] * float(self.dim + 1) ** degree < EXACT_INTEGER_LIMIT:
            return _integer_term(states, self.sources, targets, degree) / (2.0 * float(self.dim - 1) ** degree)
        plus, minus = _transfer_pair(states.double() @ self.sources.double().T, self.dim, degree)
        mean = torch.mm(0.5 * (plus + minus), targets.double())
        return torch.addcmul(mean, states.double(), torch.mm(0.5 * (plus - minus), (targets * self.sources).double()))

    def field(self, states: Tensor) -> Tensor:
        """(B, D) → (B, D) float64 local field of every neuron with its own coupling excluded (the exponential up to
        a positive factor per state)."""
        field = self._term(states, self.targets, self.kind, self.degree)
        if self.symmetric > 0:
            symmetric = self._term(states, self.sources, self.symmetric_kind, self.symmetric_degree)
            field = field + self.symmetric * symmetric
        return field

    def step(self, states: Tensor) -> Tensor:
        """(B, D) → (B, D): one synchronous transition (ties keep the current bit)."""
        return sign_keep(self.field(states), states)

    def energy(self, states: Tensor) -> Tensor:
        raise NotImplementedError("sequence memories are asymmetric: they have no energy")


class PseudoInverseSequence(torch.nn.Module):
    """Generalised pseudo-inverse sequence rule (Chaudhry et al. 2023), a NON-LOCAL baseline.

    S ← sgn(Σ_μ ξ_{μ+1} f(a_μ)), a = m O⁺, m_ν = ξ_ν·S / D, O_μν = ξ_μ·ξ_ν / D (O⁺ the Moore–Penrose inverse).
    At a stored pattern a is exactly one-hot whenever O is invertible, so every transition is exact up to P ≈ D
    whatever the correlations. f as in :class:`SequenceMemory`; the self-coupling is kept (a baseline, not a
    Hebbian write). ``patterns`` Ξ (P, D) ±1, cyclic.
    """

    decorrelate: Tensor  # buffer
    targets: Tensor  # buffer

    def __init__(self, patterns: Tensor, kind: str = "linear", degree: int = 1):
        super().__init__()
        check_matrix(patterns, "patterns", bipolar=True)
        _check_transfer(kind, degree, "kind")
        self.dim = patterns.shape[1]
        self.kind, self.degree = kind, degree
        gram = patterns.double() @ patterns.double().T / self.dim
        self.register_buffer("decorrelate", (torch.linalg.pinv(gram) @ patterns.double() / self.dim).float())
        self.register_buffer("targets", torch.roll(patterns, -1, dims=0))

    def step(self, states: Tensor) -> Tensor:
        """(B, D) → (B, D) one synchronous transition."""
        a = states @ self.decorrelate.T  # (B, P) = m O⁺
        if self.kind == "exponential":
            g = torch.exp((self.dim - 1) * (a - a.amax(-1, keepdim=True)))
        elif self.kind == "polynomial":
            g = a**self.degree
        else:
            g = a
        return sign_keep(g @ self.targets, states)


register_kind(slot_kind("sequence", SequenceMemory, "a sequence Ξ (P, D) in order, stored in asymmetric couplings"))
register_kind(
    slot_kind("sequence_pseudo_inverse", PseudoInverseSequence, "a sequence Ξ (P, D) decorrelated by O⁺ (non-local)")
)
