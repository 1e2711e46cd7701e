"""Bad input ends in a ValueError that names the argument and what was expected."""

from __future__ import annotations

import pytest
import torch

from hebbdam.data.corrupt import corrupt
from hebbdam.dynamics import relax, rollout
from hebbdam.memory import (
    Amari,
    BinaryMemory,
    DenseAM,
    Exponential,
    GaussianDAM,
    Hopfield,
    Kohonen,
    Minerva2,
    ModernHopfield,
    NeuronAstrocyte,
    Power,
    RandomFeatureDAM,
    SequenceMemory,
    UniversalHopfield,
    build,
)
from hebbdam.memory.softmax import stream_step
from hebbdam.rules import get_rule

X = torch.tensor([[1.0, -1.0, 1.0, 1.0], [-1.0, -1.0, 1.0, -1.0]])

CASES = [
    (lambda: relax(DenseAM(X, Power(3)), torch.ones(2, 5)), r"states: expected shape \(B, 4\)"),
    (lambda: relax(Hopfield(torch.zeros(4, 4)), torch.full((2, 4), 0.5)), "states: expected bipolar"),
    (lambda: rollout(SequenceMemory(X), torch.zeros(1, 4), 3), "start: expected bipolar"),
    (lambda: SequenceMemory(X * 0.5), "patterns: expected bipolar"),
    (lambda: ModernHopfield(X, beta=0.0), "beta: expected a finite number > 0"),
    (lambda: ModernHopfield(X, beta=-1.0), "beta"),
    (lambda: Exponential(0.0), "beta"),
    (lambda: UniversalHopfield(X, beta=float("inf")), "beta"),
    (lambda: GaussianDAM(X, beta=-2.0), "beta"),
    (lambda: RandomFeatureDAM(4, 16, beta=0.0), "beta"),
    (lambda: Power(1), "n: expected an integer power ≥ 2"),
    (lambda: Power(2.5), "n:"),
    (lambda: UniversalHopfield(X, similarity="jaccard"), "similarity: expected one of dot, l1_dot, cosine"),
    (lambda: UniversalHopfield(X, separation="topk"), "separation: expected one of identity, power, softmax"),
    (lambda: UniversalHopfield(X, projection=torch.ones(3, 2)), "projection: expected 2 rows"),
    (lambda: Kohonen(X, values=torch.ones(3, 2)), "values: expected 2 rows"),
    (lambda: Amari(X, values=X, zero_diagonal=True), "zero_diagonal"),
    (lambda: ModernHopfield(torch.ones(4)), "memories: expected a 2-d"),
    (lambda: DenseAM(X, separation="x^3"), "separation: expected a Separation"),
    (lambda: DenseAM(torch.tensor([[1.0, float("nan")]]), Power(2)), "memories: expected finite"),
    (lambda: Minerva2(X, power=2), "power: expected an odd integer"),
    (lambda: SequenceMemory(X, kind="cubic"), "kind: expected one of linear, polynomial, exponential"),
    (lambda: SequenceMemory(X, "exponential", symmetric=1.0), "symmetric_kind"),
    (lambda: RandomFeatureDAM(4, 16).write(torch.ones(3, 5)), "patterns: expected 4 columns"),
    (lambda: relax(DenseAM(X, Power(2)), X, mode="gibbs"), "mode: expected one of async, sync"),
    (lambda: relax(ModernHopfield(X), X, mode="async"), "mode: asynchronous updates need a binary memory"),
    (lambda: relax(ModernHopfield(X), X, mode="gradient", lr=0.0), "lr: expected a step size > 0"),
    (lambda: relax(DenseAM(X, Power(2)), X, clamped=torch.ones(3, dtype=torch.bool)), r"clamped: expected a \(4,\)"),
    (lambda: relax(Kohonen(X, values=torch.ones(2, 3)), X), "memory: a hetero-associative"),
    (lambda: relax(Minerva2(X), X, mode="sync", trace_energy=True), "trace_energy: Minerva2 has no energy"),
    (lambda: stream_step(X, X, 1.0, chunk=0), "chunk: expected a positive integer"),
    (lambda: corrupt(X, "blur"), "kind: expected one of none, bottom_half, pixel_mask"),
]


@pytest.mark.parametrize("call, message", CASES, ids=[c[1][:40] for c in CASES])
def test_bad_input_names_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_store_corrupt_recall_round_trip():
    """Models written from patterns (a rule through the registry, or the class itself), probes corrupted by
    ``data.corrupt``, recall by ``dynamics.relax`` (async for binary memories, one step otherwise)."""
    gen = torch.Generator().manual_seed(0)
    patterns = torch.randint(0, 2, (5, 64), generator=gen) * 2.0 - 1.0  # α = 0.08 < 0.138
    memories = {
        "dense": DenseAM(patterns, Power(3)),
        "softmax": ModernHopfield(patterns, beta=0.5),
        "hopfield": build("hopfield", get_rule("hebb").fit(patterns), 64),
        "astrocyte": NeuronAstrocyte(patterns),
    }
    for name, memory in memories.items():
        probes = corrupt(patterns, "flip", 0.1, generator=gen)
        assert int((probes != patterns).sum(-1).min()) == 6
        mode = "async" if isinstance(memory, BinaryMemory) else "one-step"
        result = relax(memory, probes, mode=mode, generator=gen)
        torch.testing.assert_close(result.states, patterns, rtol=0, atol=1e-4, msg=name)
    half = corrupt(patterns, "bottom_half", shape=(1, 8, 8))
    assert bool((half[:, 32:] == 0).all()) and torch.equal(half[:, :32], patterns[:, :32])
    masked = corrupt(patterns, "pixel_mask", 0.5, generator=gen)
    assert 0.3 < float((masked == 0).float().mean()) < 0.7
    labels = torch.eye(5)
    hetero = UniversalHopfield(patterns, similarity="euclidean", separation="max", projection=labels)
    assert torch.equal(hetero.step(probes), labels)
