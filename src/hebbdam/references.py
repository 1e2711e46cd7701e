"""Every published number used anywhere in hebbdam, with its citation.

Figures and reports read these entries; tests compare measurements against them. Add entries, never inline a number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Reference:
    value: float
    citation: str
    note: str = ""


HEBB_CRITICAL_LOAD = Reference(
    0.138,
    "Amit, Gutfreund & Sompolinsky 1985, Phys. Rev. Lett. 55:1530",
    "retrieval-phase boundary α_c of the Hebbian Hopfield network (~1.5% wrong bits at α_c)",
)
HEBB_EXACT_ONE_PATTERN = Reference(
    2.0,
    "McEliece, Posner, Rodemich & Venkatesh 1987, IEEE Trans. Inf. Theory 33:461",
    "one given pattern is exactly stable up to P = D / (2 ln D); the value is the 2 in the denominator",
)
HEBB_EXACT_ALL_PATTERNS = Reference(
    4.0,
    "McEliece, Posner, Rodemich & Venkatesh 1987, IEEE Trans. Inf. Theory 33:461",
    "all patterns exactly stable up to P = D / (4 ln D); the value is the 4 in the denominator",
)
DAM_CAPACITY_CITATION = "Krotov & Hopfield 2016, NeurIPS, 'Dense Associative Memory for Pattern Recognition'"


def hebb_exact_capacity(dim: float, all_patterns: bool = False) -> float:
    """P_max = D / (c ln D), c = 2 (a given pattern stable) or 4 (all patterns stable)."""
    c = HEBB_EXACT_ALL_PATTERNS.value if all_patterns else HEBB_EXACT_ONE_PATTERN.value
    return dim / (c * math.log(dim))


def double_factorial(k: int) -> int:
    return math.prod(range(k, 0, -2)) if k > 0 else 1


def dam_no_error_capacity(dim: float, n: int) -> float:
    """Polynomial DAM, F = xⁿ: K_max ≈ D^(n-1) / (2 (2n-3)!! ln D) (Krotov & Hopfield 2016, eq. 8)."""
    return dim ** (n - 1) / (2 * double_factorial(2 * n - 3) * math.log(dim))
