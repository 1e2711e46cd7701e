"""Base classes: a memory is an energy over states and a one-step update.

Binary memories (states in {-1, +1}) expose a *field*: ``field[b, i] > 0`` means state ``b`` has lower energy
with ``σ_i = +1`` than with ``σ_i = -1``. Asynchronous dynamics (``dynamics.py``) need the field of one neuron
per state at a time; a binary memory keeps a small *cache* (local fields, or overlaps with the memories)
current per flip, so one asynchronous step costs O(D) or O(P) per state instead of a full recomputation.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def sign_keep(field: Tensor, current: Tensor) -> Tensor:
    """sgn(field), keeping the current value where the field is exactly zero (ties never flip): (B, D), (B, D) → (B, D).

    The package's one tie convention for ±1 models, synchronous and asynchronous alike. The prospectus writes
    sgn(0) = 0, which would put 0 entries into a ±1 state (a third value no energy or rule of this package defines);
    keeping the current value is the standard asynchronous convention (a flip of zero energy change is not made, so
    the energy strictly decreases at every flip and async dynamics terminate), keeps states ±1, and makes a stored
    pattern whose field vanishes at some neuron still count as a fixed point there. Because the fields of ±1 models
    are computed exactly (:func:`integer_numerators`, ``Hopfield``, ``DenseAM``, ``SequenceMemory``), a true tie is
    exactly 0 on every CPU, so this convention, not rounding noise, settles it.
    """
    return torch.where(field > 0, 1.0, torch.where(field < 0, -1.0, current)).to(current.dtype)


# float64 represents every integer of magnitude ≤ 2⁵³ exactly: sums and products of integers below it are exact in
# any order, whatever the CPU's vector width or thread count
EXACT_INTEGER_LIMIT = 2.0**53


def integer_power(values: Tensor, n: int) -> Tensor:
    """values**n by repeated squaring, elementwise: (...) → (...). Exact for integer-valued float64 inputs whose power
    stays below 2⁵³ (every partial product is a smaller power), and for any input the same rounding on every CPU
    (``torch.pow`` may call a vectorised ``pow`` whose last bit depends on the instruction set)."""
    result, square, remaining = None, values, n
    while remaining:
        if remaining & 1:
            result = square if result is None else result * square  # out of place: autograd may differentiate F
        remaining >>= 1
        if remaining:
            square = square * square
    if result is None:  # n = 0
        return torch.ones_like(values)
    return values.clone() if result is values else result


INTEGER_SNAP = 1e-5  # relative distance to the nearest integer that counts as float rounding of an integer


def integer_numerators(values: Tensor, denominator: float) -> Tensor | None:
    """The integers K (float64, same shape) with ``values`` = K / ``denominator`` up to the rounding of storing
    K / denominator in ``values``' dtype (|values · denominator - K| ≤ 1e-5 · max(1, |K|)), or None when ``values``
    are not of that form (or not finite) or max |K| · columns reaches 2⁵² (then a sum over a row could round).

    A Hebbian W = Σ_μ ξ_μ ξ_μᵀ / D of ±1 patterns is K / D with integer K: fields computed from K are exact integers
    (scaled once at the end, or never: a sign needs no scale), so a true tie is exactly 0 on every CPU.
    """
    if values.numel() == 0:
        return values.double()
    scaled = values.double() * denominator
    counts = torch.round(scaled)
    magnitude = counts.abs()
    tolerance = magnitude.clamp(min=1.0).mul_(INTEGER_SNAP)
    if not bool((scaled.sub_(counts).abs_() <= tolerance).all()):  # also False for NaN and ±inf
        return None
    if float(magnitude.amax()) * values.shape[-1] >= EXACT_INTEGER_LIMIT / 2:
        return None
    return counts


def is_bipolar(values: Tensor) -> bool:
    """True when every entry is exactly +1 or -1."""
    return bool(((values == 1) | (values == -1)).all())


def check_beta(beta: float, name: str = "beta") -> float:
    """A finite inverse temperature > 0, or a ValueError naming ``name``."""
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not math.isfinite(beta) or beta <= 0:
        raise ValueError(f"{name}: expected a finite number > 0, got {beta!r}")
    return float(beta)


CHECK_ROWS = 65536  # rows checked at a time: isfinite of a huge memory matrix would take several copies of it


def check_matrix(values: Tensor, name: str, dim: int | None = None, bipolar: bool = False) -> None:
    """Raise a ValueError naming ``name`` unless it is a finite 2-d (rows, dim) matrix, ±1 if ``bipolar``."""
    if not isinstance(values, Tensor) or values.ndim != 2:
        shape = tuple(values.shape) if isinstance(values, Tensor) else type(values).__name__
        raise ValueError(f"{name}: expected a 2-d (P, D) tensor, got {shape}")
    if dim is not None and values.shape[1] != dim:
        raise ValueError(f"{name}: expected {dim} columns, got {values.shape[1]}")
    if not all(bool(torch.isfinite(rows).all()) for rows in values.split(CHECK_ROWS)):  # bounded temporaries
        raise ValueError(f"{name}: expected finite entries")
    if bipolar and not is_bipolar(values):
        raise ValueError(f"{name}: expected bipolar ±1 entries")


def check_states(states: Tensor, dim: int, *, bipolar: bool, name: str = "states") -> None:
    """Raise a ValueError naming ``name`` unless it is a (B, dim) tensor (and ±1 when ``bipolar``)."""
    if states.ndim != 2 or states.shape[1] != dim:
        raise ValueError(f"{name}: expected shape (B, {dim}), got {tuple(states.shape)}")
    if bipolar and not is_bipolar(states):
        raise ValueError(f"{name}: expected bipolar ±1 entries for a binary model")


class Memory(nn.Module):
    """An associative memory over D-dimensional states.

    ``bipolar`` says whether states must be ±1 (binary models); :meth:`validate` checks a batch once, at the
    entry of every recall loop in ``dynamics.py`` (not per step, to keep steps at matmul speed).
    """

    dim: int
    bipolar: bool = False

    def validate(self, states: Tensor, name: str = "states") -> None:
        """Raise a ValueError naming ``name`` unless ``states`` is (B, D), ±1 for a binary model."""
        check_states(states, self.dim, bipolar=self.bipolar, name=name)

    def energy(self, states: Tensor) -> Tensor:
        """(B, D) → (B,) energy of each state."""
        raise NotImplementedError

    def step(self, states: Tensor) -> Tensor:
        """(B, D) → (B, D): one synchronous update of every neuron."""
        raise NotImplementedError


class BinaryMemory(Memory):
    """A memory over bipolar states, updated by σ_i ← sgn(field_i)."""

    bipolar = True

    def columns(self, name: str, dtype: torch.dtype | None = None) -> Tensor:
        """A contiguous transpose of buffer ``name`` (cast to ``dtype`` if given), cached while the buffer is unchanged.

        Asynchronous steps read one column per state (``W[:, i]``, ``Ξ[:, i]``); gathering rows of a contiguous
        transpose is many times faster than gathering strided columns.
        """
        source = getattr(self, name)
        key = (source.data_ptr(), source._version, tuple(source.shape), source.dtype, source.device)
        cache = self.__dict__.setdefault("_columns_cache", {})
        slot = (name, dtype)
        if slot not in cache or cache[slot][0] != key:
            cache[slot] = (key, source.T.to(dtype or source.dtype).contiguous())
        return cache[slot][1]

    def field(self, states: Tensor) -> Tensor:
        """(B, D) → (B, D): preference of each neuron for +1 over -1 (any positive per-state scale)."""
        raise NotImplementedError

    def step(self, states: Tensor) -> Tensor:
        return sign_keep(self.field(states), states)

    # asynchronous support: exact synchronous fields refreshed per flip (dynamics.field_sweep) ------------------
    def sweep_fields(self, states: Tensor) -> Tensor | None:
        """(B, D) → (B, D) float64 fields whose signs, and zeros, are exactly those :meth:`field_at` reads (a positive
        factor per state is free), or None when this memory has no such field (then sweeps go neuron by neuron)."""
        return None

    def refresh_fields(self, fields: Tensor, states: Tensor, rows: Tensor, neurons: Tensor, delta: Tensor) -> None:
        """Make ``fields[rows]`` (B, D) float64 current after ``states[rows, neurons]`` (already updated) moved by
        ``delta`` (R,): in place. Default: recompute those rows (only called where :meth:`sweep_fields` has a field)."""
        fresh = self.sweep_fields(states[rows])
        if fresh is None:
            raise TypeError(f"{type(self).__name__}.refresh_fields: this memory has no sweep fields")
        fields[rows] = fresh

    # asynchronous support: a cache kept current per single-neuron flip -------------------------------------
    def cache(self, states: Tensor) -> Tensor:
        """(B, D) → (B, C): the quantities needed to read one neuron's field cheaply."""
        raise NotImplementedError

    def field_at(self, cache: Tensor, states: Tensor, index: Tensor) -> Tensor:
        """Field of neuron ``index[b]`` of state ``b``: (B, C), (B, D), (B,) → (B,)."""
        raise NotImplementedError

    def after_flip(self, cache: Tensor, index: Tensor, delta: Tensor) -> Tensor:
        """The cache after ``states[b, index[b]] += delta[b]`` (delta ∈ {-2, 0, 2}): → (B, C)."""
        raise NotImplementedError
