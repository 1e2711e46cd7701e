"""Independent, repeatable random streams: one ``seed`` per experiment, one generator per labelled use of it."""

from __future__ import annotations

import zlib

import numpy as np
import torch


def generator_for(seed: int, *keys: object) -> torch.Generator:
    """A CPU generator seeded from ``seed`` and any labels (names, sizes, trial index): independent, repeatable."""
    words = [zlib.crc32(str(key).encode()) for key in keys]
    state = np.random.SeedSequence([seed, *words]).generate_state(2, dtype=np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))
