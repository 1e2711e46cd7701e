"""Every published number and formula used anywhere in hebbdam, with its source and, where the paper numbers it, its
equation.

Only what a paper (or a paper's released code) states lives here. Our own choices, quick checks and expectations live
in :mod:`hebbdam.expectations` and are never shown in a "published" column. Figures and reports read these entries;
tests compare measurements against them. Add entries, never inline a number.
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
HEBB_CRITICAL_LOAD_RSB = Reference(
    0.144,
    "Crisanti, Amit & Gutfreund 1986, Europhys. Lett. (not checked against a copy offline)",
    "α_c of the Hebbian Hopfield network with replica-symmetry breaking (the replica-symmetric value is 0.138)",
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


DAM_NO_ERROR_EQUATION = "Eq. (6)"
DAM_NO_ERROR_CRITERION = "per-bit error probability of one update from a stored pattern < 1/N (no-error capacity)"


def dam_no_error_capacity(dim: float, n: int) -> float:
    """Polynomial DAM, F = xⁿ: K_max ≈ D^(n-1) / (2 (2n-3)!! ln D) (Krotov & Hopfield 2016, Eq. (6)): the K at which
    the probability of a wrong bit after one update from a stored pattern falls below 1/N (``DAM_NO_ERROR_CRITERION``);
    about 13% of patterns still carry one error there."""
    return dim ** (n - 1) / (2 * double_factorial(2 * n - 3) * math.log(dim))


# E2: Krotov & Hopfield 2016, Appendix B (random starts, asynchronous relaxation) -------------------------------
APPENDIX_B_ALL_MEMORIES_POWER = Reference(
    5,
    DAM_CAPACITY_CITATION + ", Appendix B",
    "D = 100, K = 2000 random memories, asynchronous updates from random ±1 starts: for n ≥ this power every start "
    "ends exactly on a memory (fraction 1)",
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
# what the paper's figures ran, read from the released code (BerenMillidge/Theory_Associative_Memory, plotting.py)
UHN_ORDERING_CONDITIONS = {
    "similarity": "max separation; 'Dot Product' = normalized_dot_product (L1-normalised); the capacity plot applies "
    "Gaussian noise σ = 0.5 whatever corruption is asked for; MNIST threshold 60 in the code's default",
    "separation": "Manhattan similarity (manhatten_distance), β = 1, softmax parameter 1000, bottom half masked",
}

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
PHAM_SETUP = (  # what their measurement is, for the rows that compare the cheap analogue with it
    "Pham et al. train U-Net DDPMs and classify ~51k generated samples by LPIPS distances; here the empirical optimal "
    "denoiser (a softmax DAM over the K images), a deterministic ODE sampler and Euclidean pixel distances"
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

# biased patterns (E1): P(ξ = +1) = (1 + a)/2, mean activity a ------------------------------------------------------
BIASED_CITATION = (
    "Amit, Gutfreund & Sompolinsky 1987, Phys. Rev. A 35:2293, 'Information storage in neural networks with low "
    "levels of activity'"
)
BIASED_HEBB_COLLAPSE = (
    "with the plain Hebb rule the capacity of biased patterns is not extensive: α_c → 0 as D → ∞ (the common "
    "component a of the patterns adds a coherent field ∝ P a³ that grows with P at any fixed load)",
    BIASED_CITATION,
)
COVARIANCE_CAPACITY = (
    "the covariance rule W = Σ (ξ - a)(ξ - a)ᵀ / D, with the mean activity held at a (their constraint; here the "
    "threshold θ), keeps an extensive capacity α_c(a) that starts at the unbiased 0.138 at a = 0 and grows as the "
    "patterns get sparser",
    BIASED_CITATION + "; Tsodyks & Feigel'man 1988, Europhys. Lett. 6:101 (0/1 neurons, threshold θ)",
)


def covariance_threshold(mean: float) -> float:
    """θ = -a(1 - a²) for the covariance rule on ±1 patterns of mean a, in σ_i ← sgn(Σ_j W_ij σ_j - θ).

    The signal-to-noise argument of these papers: from a stored pattern the covariance field is
    h_i = (ξ_i - a)(1 - a²), +(1 - a)(1 - a²) on the +1 neurons and -(1 + a)(1 - a²) on the -1 neurons; θ is the
    midpoint of the two, so h_i - θ = ξ_i (1 - a²) and the signal is symmetric again (the crosstalk has variance
    α(1 - a²)² on both, as for unbiased Hebb). In Tsodyks & Feigel'man's 0/1 units (activity f = (1 + a)/2) the same
    midpoint reads f(1 - f)(½ - f); ξ = 2V - 1 doubles the state and quadruples W, hence the factor 8. Amit,
    Gutfreund & Sompolinsky hold the mean activity at a instead; on a retrieved pattern that constraint acts as this
    uniform field. The papers' equation numbers were not checked here (no copy offline): this is the midpoint
    formula, verified numerically by the tests, not a transcription.
    """
    return -mean * (1.0 - mean * mean)


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


# E9: in-context associative recall (Schlag, Irie & Schmidhuber 2021; Zoology, Arora et al. 2023) ------------------
SCHLAG_CITATION = (
    "Schlag, Irie & Schmidhuber 2021, ICML, 'Linear Transformers Are Secretly Fast Weight Programmers', Section 6.1; "
    "logs: github.com/ischlag/fast-weight-transformers synthetic/logs/d64_<model>_AssocSeq<L>N<N>R<r>.csv"
)
SCHLAG_LOSS_NOTE = (
    "last logged eval-loss ½‖ŷ - onehot(v)‖² (mean over all keys of 20 test sequences) of each run; d_key 64, one "
    "layer, Adam 1e-3, batch 32, stopped at eval-loss ≤ 0.001 or 10 evaluations without improvement (≤ 100k steps)"
)
# setting → hebbdam memory name → (their model name in the log file names, {N: final eval loss})
# fmt: off
SCHLAG_FINAL_LOSS: dict[str, dict[str, tuple[str, dict[int, float]]]] = {
    "setting1": {
        "softmax": ("softmax_cat", {20: 0.000634, 40: 0.000324, 60: 7.22e-05, 80: 3.02e-05, 100: 2.01e-05,
                                    120: 1.08e-05, 140: 6.99e-06, 160: 5.73e-06, 180: 6.16e-06, 200: 8.6e-06,
                                    220: 0.000126, 240: 0.000423, 260: 4.07e-06, 280: 2.28e-06, 300: 5.46e-06,
                                    320: 4.27e-06, 340: 2.88e-06, 360: 0.0268, 380: 2.9e-06, 400: 2.8e-06,
                                    420: 3.11e-06, 440: 2.14e-06, 460: 0.00893, 480: 4.52e-06, 500: 0.174,
                                    520: 0.00893, 540: 0.0446, 560: 0.0357, 580: 0.0313, 600: 0.0536}),
        "linear_elu": ("linear_sum", {20: 0.000889, 40: 0.000829, 60: 0.0246, 80: 0.11, 100: 0.172, 120: 0.232,
                                      140: 0.272, 160: 0.301, 180: 0.323, 200: 0.343, 300: 0.4, 400: 0.422,
                                      500: 0.434, 600: 0.452}),
        "dpfp1": ("dpfp1_sum", {20: 0.000783, 40: 0.000274, 60: 0.000429, 80: 0.000167, 100: 0.000209, 120: 0.00862,
                                140: 0.0532, 160: 0.102, 180: 0.143, 200: 0.175, 300: 0.288, 400: 0.346, 500: 0.389,
                                600: 0.418}),
        "dpfp2": ("dpfp2_sum", {20: 0.000305, 40: 0.000633, 60: 0.000969, 80: 0.000601, 100: 0.000503, 120: 0.000291,
                                140: 0.000514, 160: 0.000384, 180: 0.000284, 200: 0.000366, 220: 0.000733,
                                240: 0.000513, 260: 0.00968, 280: 0.0456, 300: 0.0681, 400: 0.166, 500: 0.281,
                                600: 0.326}),
        "favor": ("favor64_sum", {20: 0.13, 40: 0.298, 60: 0.493, 80: 0.5, 100: 0.5, 200: 0.5, 400: 0.5, 600: 0.5}),
    },
    "setting2": {
        "dpfp1": ("dpfp1_sum", {20: 0.105, 40: 0.114, 60: 0.123, 80: 0.119, 100: 0.117, 120: 0.133, 140: 0.157,
                                160: 0.183, 180: 0.21, 200: 0.239}),
        "delta_elu": ("linear_ours", {20: 0.000796, 40: 0.000685, 60: 0.000511, 80: 0.101, 100: 0.161, 120: 0.223,
                                      140: 0.264, 160: 0.291, 180: 0.322, 200: 0.342}),
        "delta_dpfp1": ("dpfp1_ours", {20: 0.000766, 40: 0.00097, 60: 0.00609, 80: 0.0106, 100: 8.62e-05,
                                       120: 0.0183, 140: 0.0493, 160: 0.114, 180: 0.138, 200: 0.185}),
    },
}
# fmt: on
SCHLAG_DELTA_NOTE = (
    "their delta rule ('ours') divides φ(k) and φ(q) by their sums; hebbdam's delta memory L2-normalises them "
    "(DeltaNet); their β = σ(w·x) as here"
)
ZOOLOGY_CITATION = (
    "Arora, Eyuboglu, Timalsina, Johnson, Poli, Zou, Rudra & Ré 2023, 'Zoology: Measuring and Improving Recall in "
    "Efficient Language Models', Figure 2 (MQAR, vocabulary 8192, 2 layers)"
)
ZOOLOGY_ATTENTION_ACCURACY = Reference(
    0.97,
    ZOOLOGY_CITATION,
    "attention's MQAR accuracy is ≈ 0.97–1.0 at every (sequence length, pairs) ∈ {(64,4), (128,8), (256,16), (512,64)} "
    "and d_model 64–512; gated convolutions and linear recurrences fall far below at small d_model",
)
BASED_FEATURE_MAP_ORDER = (
    "MQAR accuracy at equal state size: Taylor-2 (≈ 0.99) > ReLU > elu + 1 > … > Performer (≈ 0.03)",
    "Arora, Eyuboglu, Zhang, Timalsina, Alberti, Zinsley, Zou, Rudra & Ré 2024, ICML, 'Simple linear attention "
    "language models balance the recall-throughput tradeoff' (Based), feature-map ablation",
)
ZOOLOGY_VOCAB_WARNING = (
    "Zoology: small vocabularies hide the differences between architectures (use ≥ 1k; they use 8192)"
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

# E7: sequential learning in the DAM (McAlister, Robins & Szymanski 2025) ----------------------------------------------
# What could be read offline (2026-12-07): the abstract (arXiv:2409.15729 v1 and v2, the Neural Computation record) and
# a third-party summary of the paper (sciencestack.ai/paper/2409.15729); not the results section, its figures or tables.
# Their code, hmcalister/Hopfield-Network-PyTorch, holds the DAM (F applied to (β/N) ξᵀσ, memories N(0, 0.1²) clamped
# to [-1, 1]) but no sequential runs and no logged results; hmcalister/Hopfield-Network-Sequential-Learning is the
# classical Hopfield network (Hebbian and delta rules), not the DAM. So the claims below are words, not numbers.
SEQUENTIAL_DAM_CITATION = "McAlister, Robins & Szymanski 2025 (Neural Computation; arXiv:2409.15729)"
SEQUENTIAL_DAM_PROTOCOL = (
    "five permuted-MNIST tasks learned one after another by a DAM trained by backprop, across the interaction vertex "
    "n; methods: naive rehearsal, pseudorehearsal, GEM, A-GEM and regularisers"
)
SEQUENTIAL_DAM_REHEARSAL = (
    "rehearsal is effective (> 0)",
    "rehearsal-based methods are strongly effective in the DAM (the summary's words; the v1 abstract: existing "
    "sequential-learning methods improve the DAM's sequential-learning performance); no number readable offline",
)
SEQUENTIAL_DAM_METHODS = (
    "sequential-learning methods are effective (> 0)",
    "the v1 abstract: existing sequential-learning methods improve the DAM's sequential-learning performance; the "
    "summary: the gradient-episodic methods unstable at intermediate n; no number readable offline",
)
SEQUENTIAL_DAM_VERTEX = (
    "transitions in behaviour as n varies (no direction stated)",
    "the abstract reports previously unseen transitions in the DAM's behaviour under sequential learning, the summary "
    "transitions as n varies and instability of the gradient-episodic methods at intermediate n; neither says which "
    "way forgetting moves with n, nor by how much",
)
SEQUENTIAL_DAM_VERTEX_CRITERION = (
    "not stated in the text readable offline (the results section, with its measure and its n grid, was not available)"
)
