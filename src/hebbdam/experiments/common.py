"""What every experiment stage shares: seeding, device choice, trainer options, progress."""

from __future__ import annotations

import zlib

import numpy as np
import torch

from ..config import Params


def generator_for(seed: int, *keys: object) -> torch.Generator:
    """A CPU generator seeded from ``seed`` and any labels (names, sizes, trial index): independent, repeatable."""
    words = [zlib.crc32(str(key).encode()) for key in keys]
    state = np.random.SeedSequence([seed, *words]).generate_state(2, dtype=np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


def trainer_options(params: Params) -> dict:
    """Lightning Trainer options from the ``trainer`` section (accelerator, devices)."""
    section = params.section("trainer")
    return {
        "accelerator": section.choice("accelerator", ["cpu", "gpu", "cuda", "auto"]),
        "devices": section.raw("devices", 1),
    }


def compute_device(params: Params) -> torch.device:
    """Where recall runs: the GPU when the trainer asks for one and it exists, else the CPU."""
    wants_gpu = params.raw("trainer.accelerator", "cpu") in ("gpu", "cuda", "auto")
    return torch.device("cuda" if wants_gpu and torch.cuda.is_available() else "cpu")
