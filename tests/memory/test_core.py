"""The recall core (``memory.core``) against direct formulas on small tensors, and every memory's read through it:
a read equals the formula written out here, and a read that still equals it after the core's softmax is swapped for
a wrong one (over the memories' axis no longer) did not go through the core."""

from __future__ import annotations

import math

import pytest
import torch

from hebbdam.experiments.budget_images import Units, complete
from hebbdam.experiments.retrieval import uhn_weights
from hebbdam.lit.backprop import SoftmaxDenoiser
from hebbdam.memory import Exponential, GaussianDAM, ModernHopfield, Power, UniversalHopfield, core
from hebbdam.memory.universal import gaussian_denoise, squared_euclidean
from hebbdam.rules.hidden import delta_readout_update, lms_step

GENERATOR_SEED = 11


def tensors(*shapes: tuple[int, ...]) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(GENERATOR_SEED)
    return [torch.randn(*shape, generator=generator, dtype=torch.float64) for shape in shapes]


def direct_softmax(logits: torch.Tensor) -> torch.Tensor:
    """exp(x_μ) / Σ_ν exp(x_ν) over the last axis, written out."""
    exp = torch.exp(logits - logits.max(-1, keepdim=True).values)
    return exp / exp.sum(-1, keepdim=True)


# the core against direct formulas ----------------------------------------------------------------------------------
def test_softmax_weights_and_read_are_the_formula():
    logits, values = tensors((3, 5), (5, 4))
    weights = core.softmax_weights(logits)
    torch.testing.assert_close(weights, direct_softmax(logits))
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, dtype=torch.float64))
    expected = torch.stack([sum(w[m] * values[m] for m in range(5)) for w in direct_softmax(logits)])
    torch.testing.assert_close(core.softmax_read(logits, values), expected)
    torch.testing.assert_close(core.project(weights, values), expected)


@pytest.mark.parametrize("separation", ["identity", "power", "softmax", "max"])
def test_separate_is_the_uhn_formula(separation):
    (scores,) = tensors((4, 6))
    beta, power = 2.5, 3
    expected = {
        "identity": scores,
        "power": scores * scores * scores,
        "softmax": direct_softmax(beta * scores),
        "max": (scores == scores.max(-1, keepdim=True).values).double(),
    }[separation]
    torch.testing.assert_close(core.separate(scores, separation, beta, power), expected)


def test_separate_refuses_an_unknown_separation():
    with pytest.raises(ValueError, match="separation: expected one of identity, power, softmax, max"):
        core.separate(torch.zeros(1, 2), "median")


@pytest.mark.parametrize("distance", [True, False])
@pytest.mark.parametrize("separation,k", [("identity", 1), ("power", 3)])
def test_normalised_separate_is_millidges_formula(distance, separation, k):
    (scores,) = tensors((3, 5))
    scores = -scores.abs() - 0.1 if distance else scores
    near = 1.0 / (-scores) if distance else scores.clamp_min(0.0)
    expected = near**k / (near**k).sum(-1, keepdim=True)
    got = core.normalised_separate(scores, separation, 1.0, 3, distance=distance, floor=1e-12)
    torch.testing.assert_close(got, expected)


def test_separation_weights_are_f_over_its_sum_or_the_softmax():
    (scores,) = tensors((3, 5))
    power = Power(3, rectified=True)
    f = 3 * torch.relu(scores) ** 2
    torch.testing.assert_close(core.separation_weights(scores, power), f / f.sum(-1, keepdim=True))
    torch.testing.assert_close(core.separation_weights(scores, Exponential(4.0)), direct_softmax(4.0 * scores))
    zero = core.separation_weights(-scores.abs(), power)  # no unit active: the row stays zero, never NaN
    assert bool((zero == 0).all())


def test_unit_read_is_the_formula():
    states, keys, values = tensors((2, 8), (5, 8), (5, 8))
    separation = Exponential(3.0)
    expected = direct_softmax(3.0 * states @ keys.T / 8) @ values
    torch.testing.assert_close(core.unit_read(states, keys, values, separation), expected)


def test_the_fast_softmax_reads_equal_the_core_definition():
    """Fused attention, the in-place GEMM pair and the streamed read all equal :func:`core.softmax_read`."""
    states, memories, values = (t.float() for t in tensors((4, 8), (20, 8), (20, 8)))
    reference = core.softmax_read(0.7 * states @ memories.T, values)
    torch.testing.assert_close(core.softmax_readout(states, memories, values, 0.7), reference)
    torch.testing.assert_close(core.gemm_readout(states, memories, values, 0.7), reference)
    torch.testing.assert_close(core.stream_softmax(states, memories, values, core.dot_logits(0.7), 3)[0], reference)
    torch.testing.assert_close(core.explicit_attention(states, memories, values, 0.7), reference)


def test_lms_step_is_the_delta_rule():
    readout, hidden, target = tensors((3, 4), (6, 4), (6, 3))
    expected = readout + 0.1 * sum(torch.outer(target[b] - readout @ hidden[b], hidden[b]) for b in range(6)) / 6
    torch.testing.assert_close(lms_step(readout, hidden, target, 0.1), expected)
    rows = torch.cat([hidden, target], 1)
    torch.testing.assert_close(delta_readout_update(readout, rows, 0.1), expected)


# every memory's read through the core ---------------------------------------------------------------------------
def _reads() -> dict[str, tuple]:
    """name → (read, its direct formula) on small float64 tensors; every read ends in a softmax over K memories."""
    states, memories = tensors((3, 6), (7, 6))
    beta, sigma = 0.8, 0.9
    distance = torch.cdist(states, memories).square()
    return {
        "ModernHopfield.attention": (
            lambda: ModernHopfield(memories, beta).attention(states),
            lambda: direct_softmax(beta * states @ memories.T),
        ),
        "UniversalHopfield manhattan/softmax": (
            lambda: UniversalHopfield(memories, "manhattan", "softmax", beta=beta).step(states),
            lambda: direct_softmax(-beta * torch.cdist(states, memories, p=1.0)) @ memories,
        ),
        "GaussianDAM.step": (
            lambda: GaussianDAM(memories, beta).step(states),
            lambda: direct_softmax(-0.5 * beta * distance) @ memories,
        ),
        "gaussian_denoise": (
            lambda: gaussian_denoise(states, memories, sigma),
            lambda: direct_softmax(-distance / (2 * sigma**2)) @ memories,
        ),
        "SoftmaxDenoiser.denoise": (
            lambda: SoftmaxDenoiser(memories).denoise(states, sigma).detach(),
            lambda: direct_softmax(-distance / (2 * sigma**2)) @ memories,
        ),
        "E3 uhn_weights softmax": (
            lambda: uhn_weights(squared_euclidean(states, memories), "euclidean", "softmax", 2, beta),
            lambda: direct_softmax(-beta * distance),
        ),
        "E8b complete": (
            lambda: complete(Units(memories, memories), states, Exponential(beta * 6), 2, binary=False),
            lambda: (
                direct_softmax(beta * (direct_softmax(beta * states @ memories.T) @ memories) @ memories.T) @ memories
            ),
        ),
        "explicit attention": (
            lambda: core.explicit_attention(states, memories, memories, beta),
            lambda: direct_softmax(beta * states @ memories.T) @ memories,
        ),
    }


READS = sorted(_reads())


@pytest.mark.parametrize("name", READS)
def test_each_memory_read_is_its_formula(name):
    read, formula = _reads()[name]
    torch.testing.assert_close(read(), formula())


@pytest.mark.parametrize("name", READS)
def test_each_memory_read_goes_through_the_core(name, monkeypatch):
    """Swap the core's softmax for one over the wrong axis: every read moves (none computes its own softmax)."""
    read, _ = _reads()[name]
    right = read()
    monkeypatch.setattr(core, "softmax_weights", lambda logits: torch.softmax(logits, dim=0))
    wrong = read()
    assert not torch.allclose(right, wrong), f"{name} did not read through memory.core"
    assert math.isfinite(float(wrong.abs().sum()))
