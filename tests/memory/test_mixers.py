"""E9 token-mixer memories: parallel/chunked = recurrent, softmax = the softmax DAM step, delta vs sum on re-bound
keys, the training-free Hebbian capacity."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from hebbdam.memory import ModernHopfield
from hebbdam.memory.core import attention, explicit_attention, uses_fused_attention
from hebbdam.memory.mixers import FeatureMap, build_memory, recurrent

SPECS = [
    ("softmax", "identity", {}),
    ("sum", "elu", {}),
    ("sum", "identity", {"normalise": False}),
    ("sum", "dpfp", {"order": 2}),
    ("sum", "taylor2", {}),
    ("sum", "favor", {"features": 16}),
    ("delta", "elu", {"chunk": 4}),
    ("delta", "dpfp", {"order": 1, "chunk": 5}),
    ("delta", "identity", {"chunk": 64}),
]


def random_sequence(seed: int, batch=3, length=13, dim=6, value_dim=5, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    q, k = (torch.randn(batch, length, dim, generator=gen, dtype=dtype) for _ in range(2))
    v = torch.randn(batch, length, value_dim, generator=gen, dtype=dtype)
    beta = torch.rand(batch, length, generator=gen, dtype=dtype)
    return q, k, v, beta


def make(rule, feature, options, dim=6):
    extra = {k: options[k] for k in ("order", "features") if k in options}
    rest = {k: v for k, v in options.items() if k not in extra}
    return build_memory(rule, feature, dim, seed=3, **extra, **rest).double()


@pytest.mark.parametrize("rule,feature,options", SPECS)
def test_parallel_form_equals_recurrent_form(rule, feature, options):
    q, k, v, beta = random_sequence(seed=len(feature) + len(rule))
    memory = make(rule, feature, options)
    torch.testing.assert_close(memory.parallel(q, k, v, beta), recurrent(memory, q, k, v, beta), atol=1e-10, rtol=1e-9)


@pytest.mark.parametrize("rule,feature,options", SPECS)
def test_final_state_read_equals_the_recurrent_last_state(rule, feature, options):
    """Reading several queries after all writes (the retrieval task) = the recurrent state after the last write."""
    q, k, v, beta = random_sequence(seed=7)
    memory = make(rule, feature, options)
    state = memory.init_state(k, v)
    for t in range(k.shape[1]):
        state = memory.write(state, k[:, t], v[:, t], beta[:, t])
    expected = torch.stack([memory.read(state, q[:, i]) for i in range(4)], dim=1)
    got = memory.read(memory.final_state(k, v, beta), q[:, :4])
    torch.testing.assert_close(got, expected, atol=1e-10, rtol=1e-9)


def test_softmax_mixer_is_one_softmax_dam_step():
    """Attention over the keys so far = ModernHopfield(keys, β, values).step(query) (src/hebbdam/memory/softmax.py)."""
    q, k, v, _ = random_sequence(seed=11, batch=1, length=20, dim=8, value_dim=4)
    memory = build_memory("softmax", "identity", 8, beta=0.7).double()
    out = memory.parallel(q, k, v)
    for t in (0, 9, 19):
        dam = ModernHopfield(k[0, : t + 1], beta=0.7, values=v[0, : t + 1])
        torch.testing.assert_close(out[0, t], dam.step(q[0, t : t + 1])[0], atol=1e-12, rtol=1e-12)
    final = memory.read(memory.final_state(k, v), q[:, :5])[0]
    torch.testing.assert_close(final, ModernHopfield(k[0], beta=0.7, values=v[0]).step(q[0, :5]), atol=1e-12, rtol=0)


def matmul_softmax_matmul(q, k, v, scale, causal):
    """Attention written out by hand, position by position: row t of softmax(scale · q kᵀ) over keys s ≤ t."""
    rows = []
    for t in range(q.shape[-2]):
        seen = k.shape[-2] if not causal else t + 1
        weights = torch.softmax(scale * q[..., t : t + 1, :] @ k[..., :seen, :].transpose(-1, -2), dim=-1)
        rows.append(weights @ v[..., :seen, :])
    return torch.cat(rows, dim=-2)


@pytest.mark.parametrize(("dim", "value_dim"), [(16, 64), (64, 64), (16, 9), (9, 9)])
def test_sdpa_is_used_exactly_where_the_cpu_picks_its_fused_kernel(dim, value_dim):
    """uses_fused_attention agrees with torch's own CPU backend choice: flash (1) for equal widths, the slow math
    fallback (0) for E9's d_key 16, d_value 64, where the explicit form is taken instead."""
    q, k, v, _ = random_sequence(seed=3, batch=2, length=11, dim=dim, value_dim=value_dim)
    q, k, v = q.float(), k.float(), v.float()
    assert uses_fused_attention(q, k, v) == (torch._fused_sdp_choice(q, k, v) == 1)
    assert uses_fused_attention(q, k, v) == (dim == value_dim)


@pytest.mark.parametrize("causal", [True, False])
def test_fused_attention_equals_matmul_softmax_matmul_in_float64(causal):
    """The SDPA path (CPU flash kernel) = the hand-written matmul-softmax-matmul, and the explicit fallback too,
    at any batch shape; the softmax mixer's parallel form is the causal one and its read the non-causal one."""
    q, k, v, _ = random_sequence(seed=21, batch=4, length=37, dim=16, value_dim=16)
    assert uses_fused_attention(q, k, v)
    expected = matmul_softmax_matmul(q, k, v, 0.37, causal)
    fused = attention(q, k, v, 0.37, causal=causal)
    torch.testing.assert_close(fused, expected, atol=1e-10, rtol=0)
    torch.testing.assert_close(explicit_attention(q, k, v, 0.37, causal=causal), expected, atol=1e-10, rtol=0)
    torch.testing.assert_close(attention(q[:, None], k[:, None], v[:, None], 0.37, causal)[:, 0], fused)  # heads axis
    memory = build_memory("softmax", "identity", 16, beta=0.37).double()
    if causal:
        torch.testing.assert_close(memory.parallel(q, k, v), expected, atol=1e-10, rtol=0)
    else:
        torch.testing.assert_close(memory.read(memory.final_state(k, v), q), expected, atol=1e-10, rtol=0)


def test_causal_attention_with_fewer_queries_than_keys_is_aligned_top_left():
    """Query t reads keys 0…t whatever the number of keys (SDPA's ``is_causal``); both paths agree."""
    q, k, v, _ = random_sequence(seed=22, batch=2, length=9, dim=4, value_dim=3)
    q = q[:, :5]
    expected = matmul_softmax_matmul(q, k, v, 1.3, causal=True)
    torch.testing.assert_close(attention(q, k, v, 1.3, causal=True), expected, atol=1e-10, rtol=0)
    torch.testing.assert_close(explicit_attention(q, k, v, 1.3, causal=True), expected, atol=1e-10, rtol=0)


def test_softmax_mixer_gradients_through_the_fused_kernel_equal_the_explicit_ones():
    """Backprop through SDPA (the trained E9 arms) gives the gradients of the explicit form (float64)."""
    q, k, v, _ = random_sequence(seed=23, batch=2, length=11, dim=8, value_dim=5)
    grads = []
    for form in (attention, explicit_attention):
        inputs = [x.clone().requires_grad_(True) for x in (q, k, v)]
        form(*inputs, 0.5, causal=True).square().sum().backward()
        grads.append([x.grad for x in inputs])
    for fused, explicit in zip(*grads, strict=True):
        torch.testing.assert_close(fused, explicit, atol=1e-10, rtol=0)


def orthonormal_keys(count: int, dim: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.linalg.qr(torch.randn(dim, count, generator=gen, dtype=torch.float64))[0].T  # (count, dim) rows


def test_delta_rule_recalls_the_latest_binding_and_the_sum_rule_does_not():
    """Setting 2: keys re-bound to new values. β = 1, orthonormal keys: the delta write replaces the old value exactly;
    the Hebbian sum keeps old and new bindings superposed."""
    dim, keys_count, values_count = 16, 6, 10
    table = orthonormal_keys(keys_count, dim, seed=1)
    gen = torch.Generator().manual_seed(2)
    order = torch.randint(keys_count, (1, 30), generator=gen)
    values = F.one_hot(torch.randint(values_count, (1, 30), generator=gen), values_count).double()
    latest = {int(key): values[0, t] for t, key in enumerate(order[0])}
    queries = torch.stack([table[key] for key in latest]).unsqueeze(0)
    expected = torch.stack(list(latest.values())).unsqueeze(0)
    keys = table[order]
    delta = build_memory("delta", "identity", dim).double()
    hebb = build_memory("sum", "identity", dim, normalise=False).double()
    torch.testing.assert_close(delta.read(delta.final_state(keys, values), queries), expected, atol=1e-12, rtol=0)
    hebbian = hebb.read(hebb.final_state(keys, values), queries)
    assert (hebbian - expected).abs().max() > 0.5  # an older binding is still there


def test_training_free_sum_rule_recalls_up_to_its_feature_dimension():
    """Hebbian outer-product memory of one-hot values under orthonormal keys: exact for N ≤ d; above d the keys
    cannot be orthogonal and crosstalk appears (loss ½‖ŷ - v‖² grows with N)."""
    dim = 16
    hebb = build_memory("sum", "identity", dim, normalise=False).double()

    def loss(count: int) -> float:
        keys = orthonormal_keys(count, dim, seed=count) if count <= dim else None
        if keys is None:
            gen = torch.Generator().manual_seed(count)
            keys = F.normalize(torch.randn(count, dim, generator=gen, dtype=torch.float64), dim=-1)
        values = torch.eye(count, dtype=torch.float64)
        reads = hebb.read(hebb.final_state(keys[None], values[None]), keys[None])[0]
        return 0.5 * (reads - values).square().sum(-1).mean().item()

    assert loss(4) < 1e-20 and loss(dim) < 1e-20
    assert 0.05 < loss(2 * dim) < loss(4 * dim)


def test_feature_sizes_and_kernels():
    x = torch.randn(5, 8, dtype=torch.float64)
    assert FeatureMap("dpfp", 8, order=3).size == FeatureMap("dpfp", 8, order=3)(x).shape[-1] == 48
    taylor = FeatureMap("taylor2", 8)
    assert taylor.size == taylor(x).shape[-1] == 73
    dots = x @ x.T / 8**0.5
    torch.testing.assert_close(taylor(x) @ taylor(x).T, 1 + dots + dots**2 / 2)
    favor = FeatureMap("favor", 8, features=20000, seed=0).double()
    small = 0.3 * x
    estimate = favor(small) @ favor(small).T
    torch.testing.assert_close(estimate, torch.exp(small @ small.T / 8**0.5), rtol=0.05, atol=0.0)
