"""Corruptions: exact masked fractions and value ranges; synthetic biased/correlated patterns; sequences."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hebbdam.data import corrupt as C
from hebbdam.data.sequences import digit_sequence, random_sequence, transitions
from hebbdam.data.synthetic import biased, correlated, flip_bits, rademacher

shapes = st.sampled_from([(1, 8, 8), (1, 28, 28), (3, 32, 32), (2, 5, 7), (1, 1, 9)])


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@settings(max_examples=30, deadline=None)
@given(shape=shapes, fraction=st.floats(0.0, 1.0), batch=st.integers(1, 6), seed=st.integers(0, 2**31))
def test_pixel_mask_exact_count_per_row_all_channels(shape, fraction, batch, seed):
    c, h, w = shape
    mask = C.pixel_mask(batch, shape, fraction, gen(seed))
    assert mask.shape == (batch, c * h * w) and mask.dtype == torch.bool
    per_pixel = mask.view(batch, c, h * w)
    assert (per_pixel == per_pixel[:, :1]).all()  # a hidden pixel is hidden in every channel
    assert (per_pixel[:, 0].sum(1) == round(fraction * h * w)).all()


def test_pixel_mask_rows_differ_and_seed_repeats():
    a = C.pixel_mask(4, (28, 28), 0.5, gen(1))
    assert not torch.equal(a[0], a[1])
    assert torch.equal(a, C.pixel_mask(4, (28, 28), 0.5, gen(1)))


@settings(max_examples=20, deadline=None)
@given(shape=shapes, data=st.data())
def test_border_and_bottom_half_counts(shape, data):
    c, h, w = shape
    width = data.draw(st.integers(0, min(h, w)))
    border = C.border_mask(3, shape, width)
    inner = max(h - 2 * width, 0) * max(w - 2 * width, 0)
    assert (border.sum(1) == c * (h * w - inner)).all()
    bottom = C.bottom_half_mask(2, shape).view(2, c, h, w)
    assert bottom[:, :, h // 2 :].all() and not bottom[:, :, : h // 2].any()


def test_bottom_half_of_mnist_is_392_pixels_and_apply_mask_zeroes_them():
    x = torch.rand(5, 784, generator=gen(0)) + 0.1
    out = C.corrupt(x, "bottom_half", shape=(1, 28, 28))
    assert ((out == 0).sum(1) == 392).all()
    assert torch.equal(out[:, :392], x[:, :392])
    assert torch.equal(C.corrupt(x, "border", 2, (28, 28), fill=-1.0) == -1, C.border_mask(5, (28, 28), 2))


@settings(max_examples=25, deadline=None)
@given(sigma=st.floats(0.0, 3.0), seed=st.integers(0, 2**31))
def test_gaussian_noise_range_and_zero_sigma(sigma, seed):
    x = torch.rand(4, 64, generator=gen(seed))
    y = C.gaussian_noise(x, sigma, gen(seed + 1))
    assert y.shape == x.shape and float(y.min()) >= 0.0 and float(y.max()) <= 1.0
    if sigma == 0.0:
        assert torch.equal(y, x)


def test_gaussian_noise_is_clamp_abs():
    x = torch.rand(3, 50, generator=gen(2))
    noise = torch.randn(3, 50, generator=gen(3))
    assert torch.allclose(C.gaussian_noise(x, 0.7, gen(3)), (x + 0.7 * noise).abs().clamp(0, 1))


@settings(max_examples=25, deadline=None)
@given(dim=st.integers(1, 300), fraction=st.floats(0.0, 1.0), seed=st.integers(0, 2**31))
def test_flip_exact_fraction(dim, fraction, seed):
    xi = rademacher(5, dim, gen(seed))
    out = C.corrupt(xi, "flip", fraction, generator=gen(seed + 1))
    assert ((out != xi).sum(1) == round(fraction * dim)).all()
    assert torch.equal(out, flip_bits(xi, fraction, gen(seed + 1)))


def test_bad_arguments_name_themselves():
    x = torch.zeros(2, 64)
    with pytest.raises(ValueError, match="kind"):
        C.corrupt(x, "blur")
    with pytest.raises(ValueError, match="shape"):
        C.corrupt(x, "bottom_half", shape=(1, 28, 28))
    with pytest.raises(ValueError, match="fraction"):
        C.pixel_mask(2, (8, 8), 1.5)
    with pytest.raises(ValueError, match="width"):
        C.corrupt(x, "border", 2.5, (8, 8))


def test_biased_patterns_mean():
    xi = biased(400, 500, 0.4, gen(0))
    assert set(xi.unique().tolist()) == {-1.0, 1.0}
    assert abs(float(xi.mean()) - 0.4) < 0.01  # 200 000 entries: std of the mean ≈ 0.002


@settings(max_examples=15, deadline=None)
@given(overlap=st.floats(0.0, 1.0), parents=st.integers(1, 5), seed=st.integers(0, 2**31))
def test_correlated_overlap_with_parent_is_exact(overlap, parents, seed):
    dim = 101
    xi, labels = correlated(12, dim, parents, overlap, gen(seed))
    assert torch.equal(labels, torch.arange(12) % parents)
    flips = round((1 - overlap) / 2 * dim)
    # children of one parent differ from it in exactly `flips` bits, so pairwise distance ≤ 2·flips
    for p in range(min(parents, 12)):
        kids = xi[labels == p]
        assert int((kids[:, None] != kids[None]).sum(-1).max()) <= 2 * flips


def test_correlated_overlap_value():
    g = gen(5)
    xi, labels = correlated(200, 400, 4, 0.5, g)
    roots = biased(4, 400, 0.0, gen(5))  # the parents are the first draw from the same generator
    m = (xi * roots[labels]).sum(1) / 400
    assert torch.equal(m, torch.full((200,), 0.5))


def test_sequences():
    seq = random_sequence(30, 64, gen(0))
    assert seq.shape == (30, 64) and set(seq.unique().tolist()) == {-1.0, 1.0}
    a, b = transitions(seq)
    assert torch.equal(b[:-1], a[1:]) and len(a) == 29
    a, b = transitions(seq, cyclic=True)
    assert torch.equal(b[-1], seq[0])
    images = torch.rand(50, 16, generator=gen(1))
    labels = torch.arange(50) % 10
    frames = digit_sequence(images, labels, 23, gen(2))
    rows = [int(torch.nonzero((images == f).all(1))[0]) for f in frames]
    assert [labels[r].item() for r in rows] == [t % 10 for t in range(23)]
    assert len(set(rows)) > 10  # frames of one class are drawn at random, not always the same image
    with pytest.raises(ValueError, match="cycle"):
        digit_sequence(images, labels, 5, cycle=[11])
