"""A plain store → corrupt → recall API over every model (what hopfield-layers users asked for).

memory = store(patterns, "dense", n=3)
probes = corrupt(patterns, "flip", 0.1, generator)
result = recall(memory, probes)        # a dynamics.Relaxation: states, sweeps, converged, energy
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..data.synthetic import flip_bits
from .astrocyte import NeuronAstrocyte
from .base import BinaryMemory, Memory, check_matrix
from .correlation import Amari, Kohonen
from .dense import DenseAM
from .hopfield import Hopfield
from .minerva import Minerva2
from .random_features import GaussianDAM, RandomFeatureDAM
from .separation import Exponential, Power
from .sequence import SequenceMemory
from .softmax import ModernHopfield
from .universal import UniversalHopfield

CORRUPTIONS = ("flip", "mask", "half", "noise")


def _hopfield(patterns: Tensor, rule: str = "hebb") -> Hopfield:
    from ..rules import get_rule

    chosen = get_rule(rule)
    if chosen.target != "pairwise":
        raise ValueError(f"rule: expected a rule that writes pairwise weights, got {rule!r} ({chosen.target})")
    dim = patterns.shape[1]
    weights = chosen.update(torch.zeros(dim, dim, dtype=patterns.dtype, device=patterns.device), patterns)
    return Hopfield(chosen.finalize(weights))


def _dense(patterns: Tensor, n: int | None = 3, rectified: bool = False, beta: float | None = None) -> DenseAM:
    return DenseAM(patterns, Exponential(beta) if beta is not None else Power(n, rectified=rectified))


def _random_features(patterns: Tensor, features: int = 4096, beta: float = 1.0, generator=None) -> RandomFeatureDAM:
    model = RandomFeatureDAM(patterns.shape[1], features, beta, generator, dtype=patterns.dtype)
    return model.write(patterns)


BUILDERS = {
    "hopfield": _hopfield,
    "dense": _dense,
    "softmax": ModernHopfield,
    "kohonen": Kohonen,
    "amari": Amari,
    "minerva": Minerva2,
    "uhn": UniversalHopfield,
    "sequence": SequenceMemory,
    "gaussian": GaussianDAM,
    "random_features": _random_features,
    "astrocyte": NeuronAstrocyte,
}


def store(patterns: Tensor, model: str, **options) -> Memory:
    """Build ``model`` over ``patterns`` (P, D); ``options`` go to its constructor (n, beta, similarity,
    …)."""
    if model not in BUILDERS:
        raise ValueError(f"model: expected one of {', '.join(BUILDERS)}, got {model!r}")
    check_matrix(patterns, "patterns")
    return BUILDERS[model](patterns, **options)


def corrupt(patterns: Tensor, kind: str = "flip", level: float = 0.1, generator: torch.Generator | None = None):
    """A corrupted copy of ``patterns`` (B, D) → (B, D).

    flip: exactly round(level·D) bits flipped (±1 data); mask: a random fraction ``level`` of entries set to
    0; half: the last half of every row set to 0 (level unused); noise: x + N(0, level²).
    """
    if kind not in CORRUPTIONS:
        raise ValueError(f"kind: expected one of {', '.join(CORRUPTIONS)}, got {kind!r}")
    if not level >= 0:
        raise ValueError(f"level: expected a number ≥ 0, got {level!r}")
    if kind == "flip":
        return flip_bits(patterns, level, generator)
    if kind == "half":
        out = patterns.clone()
        out[:, patterns.shape[1] // 2 :] = 0.0
        return out
    if kind == "mask":
        if level > 1:
            raise ValueError(f"level: expected a fraction in [0, 1] for mask, got {level!r}")
        keep = torch.rand(patterns.shape, generator=generator) >= level
        return patterns * keep.to(patterns.device, patterns.dtype)
    noise = torch.randn(patterns.shape, generator=generator, dtype=patterns.dtype).to(patterns.device)
    return patterns + level * noise


def recall(memory: Memory, queries: Tensor, mode: str | None = None, **options):
    """Recall from ``queries`` (B, D): a ``dynamics.Relaxation``; hetero memories return their one-step
    output.

    Default mode: "async" for binary memories, "one-step" otherwise; ``options`` go to ``dynamics.relax``.
    """
    from ..dynamics import Relaxation, relax

    if getattr(memory, "hetero", False):
        memory.validate(queries, "queries")
        with torch.no_grad():
            out = memory.step(queries)
        ones = torch.ones(queries.shape[0], dtype=torch.long, device=queries.device)
        return Relaxation(states=out, sweeps=ones, converged=ones.bool())
    if mode is None:
        mode = "async" if isinstance(memory, BinaryMemory) else "one-step"
    return relax(memory, queries, mode=mode, **options)
