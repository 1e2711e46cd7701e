"""Our own choices, quick checks and expectations: never published values, never shown in a "published" column.

Published numbers and formulas live in :mod:`hebbdam.references`. What is here is ours: a value we expect from a
derivation or a quick check, or a tolerance we chose to call a measurement "reproduced". Each entry says why.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Expectation:
    value: float
    why: str


DREAMING_BEST_T = Expectation(
    10.0,
    "dreaming time t that gave the best noisy recall at α = 0.5 in a quick check of ours (SCIENCE.md); Fachechi, "
    "Agliari & Barra 2019 state only α_c → 1 as t → ∞",
)
APPENDIX_B_HALF_TO_NO_ERROR = Expectation(
    1.0,
    "K½(D) / K_no-error(D) (Krotov & Hopfield 2016 Eq. (6), n = 3): half the random starts converging perfectly is a "
    "looser criterion than a per-bit error rate < 1/N from stored patterns, so we expect the ratio ≥ 1 and roughly "
    "flat in D if K½ follows the Eq. (6) curve; the paper states no value for K½",
)
ORDERING_INTERVAL = Expectation(
    0.95,
    "an ordering counts as reproduced when the 95% interval of the measured difference lies on the published side of "
    "0 (our criterion; the papers show curves, not tests)",
)
ASYMPTOTIC_LAW_BAND = Expectation(
    0.3,
    "a finite-D capacity counts as reproducing an asymptotic law when it lies within ±30% of the law at that D (our "
    "tolerance: the laws drop O(1/ln D) corrections)",
)
FINITE_SIZE_CRITICAL_LOAD_BAND = Expectation(
    0.25,
    "α_c at finite D sits above the D → ∞ value 0.138 by a finite-size shift; we call ≤ +25% at D = 500 reproduced",
)
