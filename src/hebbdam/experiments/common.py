"""What every experiment stage shares: seeding, device choice, trainer options, progress."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from .. import io
from ..config import ConfigError, Params, load_params
from ..gate import flatten
from ..logs import say
from ..memory import Exponential, Power, Separation
from ..tracking import wandb_run


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


def parse_separation(section: Params) -> Separation:
    """F of a dense arm. The exponential's ``beta`` multiplies the raw overlap ξ·σ (Demircigil: F = exp(ξ·σ), beta
    = 1); DenseAM feeds F the scaled overlap ξ·σ / D, so the separation built here is F(x) = exp(beta · D · x) via
    :func:`separation_at`."""
    kind = section.choice("kind", ["power", "exponential"])
    if kind == "power":
        n = section.raw("n")
        if isinstance(n, bool) or not isinstance(n, int) or n < 2:
            raise ConfigError(section.key("n"), "an integer power ≥ 2", n)
        return Power(n, rectified=bool(section.raw("rectified", False)))
    return Exponential(section.number("beta", lambda v: 0 < v < float("inf"), "a number in (0, ∞)"))


def separation_at(separation: Separation | None, dim: int) -> Separation | None:
    """The separation for dimension D: powers are scale-free; the exponential's beta is per raw overlap."""
    return Exponential(separation.beta * dim) if isinstance(separation, Exponential) else separation


def run_stage(
    args,
    experiment: str,
    parse_settings: Callable[[Params], object],
    compute: Callable[[object, Params, object], dict[str, object]],
    record_name: str | None = None,
) -> None:
    """The path every experiment stage takes: params.yaml → validated settings (before any work) → a W&B run
    (group = the top-level params section; job_type = ``record_name`` or the experiment) →
    ``compute(settings, params, run)`` → its files, written atomically only after everything succeeded. The first
    file is the stage's record: its numeric leaves become the W&B summary.
    """
    params = load_params(args.params)
    settings = parse_settings(params)
    out_dir = Path(args.out or "reports/metrics")
    config = {experiment: params.section(experiment).to_dict(), "trainer": params.raw("trainer", {})}
    group = experiment.split(".")[0]
    with wandb_run(params, experiment=group, stage=record_name or experiment, config=config) as run:
        files = compute(settings, params, run)
        record = next(iter(files.values()))
        for key, value in flatten(record).items():
            if value is not None:
                run.summary[key] = value
    io.write_json_files(out_dir, files)
    say(f"{experiment}: wrote " + ", ".join(str(out_dir / name) for name in files))
