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


# E2: Krotov & Hopfield 2016, Appendix B (random starts, asynchronous relaxation) -------------------------------
APPENDIX_B_ALL_MEMORIES_POWER = Reference(
    5,
    DAM_CAPACITY_CITATION + ", Appendix B",
    "D = 100, K = 2000 random memories, asynchronous updates from random ±1 starts: for n ≥ this power every start "
    "ends exactly on a memory (fraction 1)",
)
APPENDIX_B_HALF_EXPONENT = Reference(
    2.0,
    DAM_CAPACITY_CITATION + ", eq. 8 (capacity ∝ D^(n-1))",
    "K½(D) for n = 3: the K at which half the random starts end on a memory, expected to grow like D^(n-1) = D²",
)

# E4: Chaudhry, Zavatone-Veth, Krotov & Pehlevan 2023 (sequence capacity) --------------------------------------
SEQUENCE_CITATION = "Chaudhry, Zavatone-Veth, Krotov & Pehlevan 2023, NeurIPS, 'Long Sequence Hopfield Memory'"
SEQUENCE_EXP_BASE = Reference(
    math.exp(2) / math.cosh(2),
    SEQUENCE_CITATION,
    "b = e² / cosh 2 ≈ 1.964, the base of the exponential DenseNet's capacity b^(D-1) / (2 ln D)",
)


def sequence_polynomial_capacity(dim: float, degree: int, whole_sequence: bool = False) -> float:
    """Polynomial DenseNet f = x^d (SeqNet: d = 1): transition capacity P_T = D^d / (2 (2d-1)!! ln D); sequence
    capacity P_S = P_T / (d + 1) (Chaudhry et al. 2023)."""
    transition = dim**degree / (2 * double_factorial(2 * degree - 1) * math.log(dim))
    return transition / (degree + 1) if whole_sequence else transition


def sequence_exponential_capacity(dim: float, whole_sequence: bool = False) -> float:
    """Exponential DenseNet f = e^{(D-1)(x-1)}: P_T = b^(D-1) / (2 ln D), P_S = b^D / (2 D ln b), b = e²/cosh 2
    (Chaudhry et al. 2023)."""
    b = SEQUENCE_EXP_BASE.value
    return b**dim / (2 * dim * math.log(b)) if whole_sequence else b ** (dim - 1) / (2 * math.log(dim))


# E3: Millidge et al. 2022, Universal Hopfield Networks (image retrieval) -------------------------------------------
UHN_CITATION = (
    "Millidge, Salvatori, Song, Lukasiewicz & Bogacz 2022, ICML, 'Universal Hopfield Networks: A General Framework "
    "for Single-Shot Associative Memory Models'"
)
UHN_ERROR_THRESHOLD = Reference(
    50.0,
    UHN_CITATION,
    "a retrieval counts as correct when Σ(x - out)² ≤ 50 on MNIST (D = 784, pixels in [0, 1]); scaled by D / 784",
)
UHN_ERROR_THRESHOLD_DIM = 784  # the D of MNIST, at which the threshold above was set
UHN_SIMILARITY_ORDERING = (
    "Euclidean and Manhattan similarity retrieve far more images than dot product (and cosine) at every N",
    UHN_CITATION + ", Fig. 2",
)
UHN_SEPARATION_ORDERING = (
    "sharper separation (higher power, softmax with large β, max) retrieves more than identity",
    UHN_CITATION + ", Fig. 3",
)

# E6: Pham et al. 2025, memorisation → generalisation in diffusion models as associative memories ------------------
PHAM_CITATION = (
    "Pham, Raya, Negri, Zaki, Ambrogioni & Krotov 2025, 'Memorization to Generalization: Emergence of Diffusion "
    "Models from Associative Memory' (arXiv:2505.21777)"
)
PHAM_TRANSITION_SHAPE = (
    "as the training set grows the memorised fraction falls, the spurious fraction peaks at the transition and the "
    "generalised fraction rises",
    PHAM_CITATION,
)
EDM_RHO = Reference(
    7.0,
    "Karras, Aittala, Aila & Laine 2022, NeurIPS, 'Elucidating the Design Space of Diffusion-Based Generative Models'",
    "exponent ρ of the noise-level schedule σ_i = (σ_max^(1/ρ) + i/(n-1) (σ_min^(1/ρ) - σ_max^(1/ρ)))^ρ",
)

# learning rules (issue 4) ---------------------------------------------------------------------------------------
STORKEY_CAPACITY = Reference(
    2.0,
    "Storkey 1997, ICANN, 'Increasing the capacity of a Hopfield network without sacrificing functionality'",
    "capacity ≈ D / √(2 ln D); the value is the 2 under the root (SCIENCE.md: verify)",
)
GARDNER_CAPACITY = Reference(
    2.0,
    "Gardner 1988, J. Phys. A 21:257",
    "maximal load α at which every random pattern can be a fixed point (zero margin); delta/perceptron rules reach it",
)
DREAMING_BEST_T = Reference(
    10.0,
    "Fachechi, Agliari & Barra 2019, Neural Networks 112:24",
    "dreaming time t that gave the best noisy recall at α = 0.5 in a quick check (SCIENCE.md); α_c → 1 as t → ∞",
)

# capacity ladder (E1) -------------------------------------------------------------------------------------------
PSEUDO_INVERSE_FIXED_POINTS = Reference(
    1.0,
    "Personnaz, Guyon & Dreyfus 1985, J. Physique Lett. 46:359; Kanter & Sompolinsky 1987, Phys. Rev. A 35:380",
    "every pattern is a fixed point up to α → 1; basins shrink from α ≈ 0.5",
)
EXPONENTIAL_DAM_RATE = Reference(
    math.log(2) / 2,
    "Demircigil, Heusel, Löwe, Upgang & Vermet 2017, J. Stat. Phys. 168:288",
    "P = exp(αD) patterns with α < I(1-2ρ)/2; with no noise α < ln 2 / 2",
)
PAIRWISE_SCALING_EXPONENT = Reference(
    1.0, "Amit, Gutfreund & Sompolinsky 1985; Gardner 1988", "capacity of any pairwise rule grows like D¹"
)


def storkey_capacity(dim: float) -> float:
    """P ≈ D / √(2 ln D) (Storkey 1997)."""
    return dim / math.sqrt(STORKEY_CAPACITY.value * math.log(dim))


def exponential_rate(noise: float = 0.0) -> float:
    """α_max = I(1 - 2ρ) / 2, I(x) = ½[(1+x) ln(1+x) + (1-x) ln(1-x)] (Demircigil et al. 2017)."""
    x = 1.0 - 2.0 * noise
    info = 0.5 * ((1 + x) * math.log(1 + x) + ((1 - x) * math.log(1 - x) if x < 1 else 0.0))
    return info / 2.0


# E5: Krotov & Hopfield 2016, the dense-memory classifier ----------------------------------------------------------
KH2016_CLASSIFIER_CITATION = "Krotov & Hopfield 2016, NeurIPS, 'Dense Associative Memory for Pattern Recognition'"
KH2016_MNIST_ERROR_N2 = Reference(
    0.016,
    KH2016_CLASSIFIER_CITATION,
    "MNIST test error (fraction) of the classifier with K = 2000 backprop-trained memories and n = 2 (≈ 1.6%)",
)
KH2016_MNIST_MEMORIES = Reference(
    2000, KH2016_CLASSIFIER_CITATION, "number of memories K of the published MNIST classifiers"
)
KH2016_ERROR_ORDERING = (
    "n = 3 reaches a lower MNIST test error than n = 2 (same K = 2000)",
    KH2016_CLASSIFIER_CITATION,
)
KH2016_FEATURE_TO_PROTOTYPE = (
    "trained memories are features at small n (n = 2, 3: each contributes to many classes) and prototypes at large n "
    "(n = 20, 30: each looks like one digit and votes for one class)",
    KH2016_CLASSIFIER_CITATION,
)


# E8: local rules against backprop at a fixed budget ------------------------------------------------------------------
GARDNER_BITS_PER_SYNAPSE = Reference(
    2.0,
    "Gardner 1988, J. Phys. A 21:257, 'The space of interactions in neural network models'",
    "largest number of random ±1 patterns per input that a perceptron (each neuron of a pairwise net) can make fixed "
    "points at zero margin: α_c = P/D = 2, i.e. P·D/M = 2 bits per synapse with M = D² couplings",
)
KH2019_CITATION = "Krotov & Hopfield 2019, PNAS 116:7723, 'Unsupervised learning by competing hidden units'"
KH2019_MNIST_ERROR = Reference(
    0.0146,
    KH2019_CITATION,
    "MNIST test error (fraction) of K = 2000 hidden units learned by the local competing rule, with a top layer "
    "trained by SGD (≈ 1.5%)",
)
KH2019_MNIST_UNITS = Reference(2000, KH2019_CITATION, "number of hidden units K of the published MNIST result")
