"""The fast recall kernels against their exact references: fused attention, streamed softmax, distances."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import torch

from hebbdam.memory import ModernHopfield, UniversalHopfield, distance
from hebbdam.memory.core import gemm_readout, softmax_readout
from hebbdam.memory.softmax import stream_logsumexp, stream_step

SHAPES = [(1, 1, 1), (2, 5, 7), (3, 3, 8), (7, 50, 31), (10, 97, 64), (4, 200, 785)]  # tile and vector remainders


def bipolar(rows: int, dim: int, gen: torch.Generator) -> torch.Tensor:
    return torch.randint(0, 2, (rows, dim), generator=gen) * 2.0 - 1.0


def needs_kernel() -> None:
    if distance.fast_kernel() is None:
        pytest.skip(distance.fast_kernel_status())


# softmax --------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("beta", [0.05, 1.0, 30.0])
def test_softmax_readout_is_attention_and_the_explicit_gemm_path(beta):
    """The fused dispatch and the GEMM path both equal softmax(β S Ξᵀ) V computed in float64."""
    gen = torch.Generator().manual_seed(1)
    memories, values, states = torch.randn(300, 29, generator=gen), torch.randn(300, 5, generator=gen), None
    states = torch.randn(17, 29, generator=gen)
    exact = torch.softmax(beta * states.double() @ memories.double().T, -1) @ values.double()
    for got in (softmax_readout(states, memories, values, beta), gemm_readout(states, memories, values, beta)):
        # float32 logits carry a relative error ~1e-6 · β‖s‖‖ξ‖; the tolerance follows β and the norms
        scale = 1e-6 * beta * states.norm(dim=-1).max() * memories.norm(dim=-1).max() * values.abs().max()
        assert (got.double() - exact).abs().max() <= 10 * scale + 1e-6


def test_streamed_recall_equals_one_shot_softmax():
    gen = torch.Generator().manual_seed(6)
    memories = torch.randn(10_000, 32, generator=gen)
    values = torch.randn(10_000, 3, generator=gen)
    queries = torch.randn(9, 32, generator=gen)
    for beta in (0.1, 1.0, 50.0):
        expected = softmax_readout(queries, memories, values, beta)
        for chunk in (1, 777, 4096, 20_000):
            if chunk == 1:
                small = memories[:50]
                ref = softmax_readout(queries, small, small, beta)
                torch.testing.assert_close(stream_step(queries, small, beta, chunk=1), ref, rtol=1e-4, atol=1e-5)
                continue
            got = stream_step(queries, memories, beta, values, chunk=chunk)
            torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
        lse = stream_logsumexp(queries, memories, beta, chunk=999)
        torch.testing.assert_close(lse, torch.logsumexp(beta * queries @ memories.T, -1), rtol=1e-5, atol=1e-4)
    chunked = ModernHopfield(memories, beta=1.0, values=values, chunk=1000)
    torch.testing.assert_close(chunked.step(queries), softmax_readout(queries, memories, values, 1.0))


def test_streaming_stays_finite_at_large_beta():
    gen = torch.Generator().manual_seed(7)
    memories = bipolar(3000, 1000, gen)
    probes = memories[:4].clone()
    probes[:, :100] *= -1
    out = stream_step(probes, memories, 1000.0, chunk=512)
    assert torch.isfinite(out).all() and torch.equal(out, memories[:4])


# distances ------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("metric", ["manhattan", "euclidean"])
@pytest.mark.parametrize("shape", SHAPES)
def test_kernel_distance_is_exact_on_integer_data(metric, shape):
    """Small integers sum exactly in float32 in any order, so the kernel must give the exact distance bit for bit
    (Manhattan: torch.cdist's own value; Euclidean: the correctly rounded root of the exact sum of squares)."""
    needs_kernel()
    b, k, d = shape
    gen = torch.Generator().manual_seed(sum(shape))
    states = torch.randint(-8, 9, (b, d), generator=gen).float()
    memories = torch.randint(-8, 9, (k, d), generator=gen).float()
    got = distance.pairwise_distance(states, memories, metric)
    differences = states[:, None, :] - memories[None, :, :]
    if metric == "manhattan":
        expected = differences.abs().sum(-1)
        assert torch.equal(expected, torch.cdist(states, memories, p=1.0))
    else:
        expected = differences.square().sum(-1).sqrt()
    assert got.shape == (b, k) and torch.equal(got, expected)


@pytest.mark.parametrize("metric", ["manhattan", "euclidean"])
@pytest.mark.parametrize("shape", SHAPES)
def test_fast_path_equals_the_fallback_within_float32_rounding(metric, shape, monkeypatch):
    needs_kernel()
    b, k, d = shape
    gen = torch.Generator().manual_seed(d)
    states, memories = torch.rand(b, d, generator=gen), torch.rand(k, d, generator=gen)
    fast = distance.pairwise_distance(states, memories, metric)
    monkeypatch.setenv("HEBBDAM_FAST_DISTANCE", "0")
    fallback = distance.pairwise_distance(states, memories, metric)
    exact = distance.cdist_chunked(states.double(), memories.double(), distance.NORMS[metric])
    # a float32 sum of d terms of size ≤ 1 is off by at most ~d · 2⁻²⁴ · (the sum) on either path
    bound = 4 * d * 2.0**-24 * exact.abs().max().item() + 1e-7
    assert (fast.double() - exact).abs().max() <= bound
    assert (fallback.double() - exact).abs().max() <= bound


def test_triton_gpu_kernel_is_exact_in_the_interpreter():
    """The CUDA path's Triton kernel, run by Triton's interpreter on the CPU (a fresh process: the interpreter is
    chosen at import), on integer data where float32 sums are exact: it must equal the exact distances."""
    pytest.importorskip("triton")
    script = textwrap.dedent(
        """
        import torch
        from hebbdam.memory.distance_triton import triton_distance
        for b, k, d in [(1, 1, 1), (7, 50, 37), (33, 65, 9)]:
            gen = torch.Generator().manual_seed(b + k + d)
            s = torch.randint(-8, 9, (b, d), generator=gen).float()
            m = torch.randint(-8, 9, (k, d), generator=gen).float()
            diff = s[:, None] - m[None]
            assert torch.equal(triton_distance(s, m, 1), diff.abs().sum(-1)), (b, k, d, 1)
            assert torch.equal(triton_distance(s, m, 2), diff.square().sum(-1)), (b, k, d, 2)
        print("exact")
        """
    )
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "exact" in done.stdout, done.stderr[-2000:]


def test_kernel_is_repeatable_whatever_the_thread_count():
    needs_kernel()
    gen = torch.Generator().manual_seed(3)
    states, memories = torch.rand(37, 100, generator=gen), torch.rand(1000, 100, generator=gen)
    saved = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = distance.pairwise_distance(states, memories, "manhattan")
        torch.set_num_threads(2)
        two = distance.pairwise_distance(states, memories, "manhattan")
    finally:
        torch.set_num_threads(saved)
    assert torch.equal(one, two)


def test_other_dtypes_and_the_disabled_kernel_take_chunked_cdist(monkeypatch):
    gen = torch.Generator().manual_seed(4)
    states, memories = torch.rand(5, 9, generator=gen).double(), torch.rand(5000, 9, generator=gen).double()
    expected = torch.cdist(states, memories, p=1.0)
    assert torch.equal(distance.pairwise_distance(states, memories, "manhattan"), expected)
    leaf = states.float().requires_grad_(True)
    distance.pairwise_distance(leaf, memories.float(), "manhattan").sum().backward()  # gradients flow via cdist
    torch.testing.assert_close(leaf.grad, torch.sign(leaf[:, None] - memories.float()[None]).sum(1).detach())
    monkeypatch.setenv("HEBBDAM_FAST_DISTANCE", "0")
    assert distance.fast_kernel() is None and "HEBBDAM_FAST_DISTANCE=0" in distance.fast_kernel_status()


# universal Hopfield, streamed -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("similarity", ["dot", "cosine", "euclidean", "manhattan"])
@pytest.mark.parametrize("separation", ["identity", "power", "softmax", "max"])
def test_streamed_universal_recall_equals_the_one_shot_recall(similarity, separation):
    gen = torch.Generator().manual_seed(5)
    memories, projection = torch.rand(500, 20, generator=gen), torch.randn(500, 3, generator=gen)
    states = torch.rand(11, 20, generator=gen)
    one_shot = UniversalHopfield(memories, similarity, separation, beta=2.0, power=3, projection=projection)
    streamed = UniversalHopfield(memories, similarity, separation, beta=2.0, power=3, projection=projection, chunk=64)
    got, expected = streamed.step(states), one_shot.step(states)
    if separation == "max":
        assert torch.equal(got, expected)
    else:
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


def test_streamed_max_keeps_the_first_of_equal_memories_across_chunks():
    """Duplicates in different chunks: the nearest is the first copy, as argmax over all memories gives."""
    gen = torch.Generator().manual_seed(8)
    memories = torch.rand(10, 6, generator=gen)
    memories = torch.cat([memories, memories])  # row i and row i + 10 are equal
    states = memories[:10] + 0.01
    for similarity in ("manhattan", "euclidean", "dot"):
        full = UniversalHopfield(memories, similarity, "max").nearest(states)
        streamed = UniversalHopfield(memories, similarity, "max", chunk=3).nearest(states)
        assert torch.equal(full, streamed) and bool((streamed < 10).all())


def test_manhattan_max_recall_returns_the_nearest_memory():
    gen = torch.Generator().manual_seed(9)
    memories = torch.rand(300, 50, generator=gen)
    states = (memories[:40] + 0.05 * torch.randn(40, 50, generator=gen)).clamp(0, 1)
    expected = torch.cdist(states.double(), memories.double(), p=1.0).argmin(-1)
    for chunk in (None, 7):
        memory = UniversalHopfield(memories, "manhattan", "max", chunk=chunk)
        assert torch.equal(memory.nearest(states), expected)
        assert torch.equal(memory.step(states), memories[expected])
