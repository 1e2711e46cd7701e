"""Query corruptions used by every experiment, batched and driven by an explicit generator.

Images are flattened rows ``X (B, D)`` with D = C·H·W in (C, H, W) order; a mask is a bool tensor (B, D) that is
True where the query is hidden. Pixel masks hide all C channels of a pixel. Fractions are exact per row:
``round(fraction · H·W)`` pixels (or ``round(fraction · D)`` bits for flips).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from .synthetic import flip_bits

KINDS = ("none", "bottom_half", "pixel_mask", "border", "gaussian", "flip")


def _shape(shape: Sequence[int], dim: int | None = None) -> tuple[int, int, int]:
    """(C, H, W) from a (C, H, W) or (H, W) shape of positive sizes, checked against the row width D if given."""
    shape = tuple(int(s) for s in shape)
    if len(shape) == 2:
        shape = (1, *shape)
    if len(shape) != 3 or min(shape) <= 0 or (dim is not None and shape[0] * shape[1] * shape[2] != dim):
        wanted = f" with C·H·W = D = {dim}" if dim is not None else ""
        raise ValueError(f"shape: expected (C, H, W) or (H, W) of positive sizes{wanted}, got {shape}")
    return shape


def _spread(pixel_mask: Tensor, channels: int) -> Tensor:
    """(B, H·W) or (H·W,) pixel mask → (B, C·H·W) or (C·H·W,) mask over every channel."""
    return pixel_mask.repeat(*([1] * (pixel_mask.dim() - 1)), channels)


def bottom_half_mask(batch: int, shape: Sequence[int], device: torch.device | str = "cpu") -> Tensor:
    """(B, D) mask hiding rows H//2 … H-1 of every image (the bottom half, the larger one when H is odd)."""
    c, h, w = _shape(shape)
    rows = torch.arange(h, device=device).repeat_interleave(w) >= h // 2
    return _spread(rows, c).expand(batch, -1)


def border_mask(batch: int, shape: Sequence[int], width: int, device: torch.device | str = "cpu") -> Tensor:
    """(B, D) mask hiding a frame ``width`` pixels wide around each image (in-paint the border from the centre)."""
    c, h, w = _shape(shape)
    if not 0 <= width <= min(h, w):
        raise ValueError(f"width: expected an integer in [0, {min(h, w)}], got {width!r}")
    r = torch.arange(h, device=device)[:, None]
    q = torch.arange(w, device=device)[None, :]
    frame = (r < width) | (r >= h - width) | (q < width) | (q >= w - width)
    return _spread(frame.reshape(-1), c).expand(batch, -1)


def pixel_mask(
    batch: int,
    shape: Sequence[int],
    fraction: float,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> Tensor:
    """(B, D) mask hiding exactly round(fraction·H·W) randomly chosen pixels of each image, independently per row."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction: expected a number in [0, 1], got {fraction!r}")
    c, h, w = _shape(shape)
    hidden = round(fraction * h * w)
    where = generator.device if generator is not None else "cpu"
    chosen = torch.rand(batch, h * w, generator=generator, device=where).argsort(dim=1)[:, :hidden]
    hide = torch.zeros(batch, h * w, dtype=torch.bool, device=where).scatter_(1, chosen, True)
    return _spread(hide, c).to(device)


def apply_mask(x: Tensor, mask: Tensor, fill: float = 0.0) -> Tensor:
    """X (B, D) with the masked entries set to ``fill`` (0 for images in [0, 1]; choose -1 or 0 for ±1 patterns)."""
    return x.masked_fill(mask.to(x.device), fill)


def gaussian_noise(x: Tensor, sigma: float, generator: torch.Generator | None = None) -> Tensor:
    """clamp(|X + N(0, σ²)|, 0, 1) for images X (B, D) in [0, 1] (the Universal Hopfield Networks protocol)."""
    if not sigma >= 0.0:
        raise ValueError(f"sigma: expected a number ≥ 0, got {sigma!r}")
    where = generator.device if generator is not None else "cpu"
    noise = torch.randn(x.shape, generator=generator, device=where, dtype=x.dtype).to(x.device)
    return (x + sigma * noise).abs().clamp(0.0, 1.0)


def corrupt(
    x: Tensor,
    kind: str,
    level: float = 0.0,
    shape: Sequence[int] | None = None,
    generator: torch.Generator | None = None,
    fill: float = 0.0,
) -> Tensor:
    """One entry point for configs: ``kind`` ∈ KINDS, ``level`` = fraction (pixel_mask, flip), σ (gaussian) or
    border width in pixels (border); bottom_half ignores it. ``shape`` (C, H, W) defaults to a single row (1, 1, D).
    """
    batch, dim = x.shape
    shape = _shape(shape, dim) if shape is not None else (1, 1, dim)
    if kind == "none":
        return x.clone()
    if kind == "bottom_half":
        return apply_mask(x, bottom_half_mask(batch, shape, x.device), fill)
    if kind == "pixel_mask":
        return apply_mask(x, pixel_mask(batch, shape, level, generator, x.device), fill)
    if kind == "border":
        if float(level) != int(level):
            raise ValueError(f"level: border width must be a whole number of pixels, got {level!r}")
        return apply_mask(x, border_mask(batch, shape, int(level), x.device), fill)
    if kind == "gaussian":
        return gaussian_noise(x, level, generator)
    if kind == "flip":
        return flip_bits(x, level, generator)
    raise ValueError(f"kind: expected one of {', '.join(KINDS)}, got {kind!r}")
