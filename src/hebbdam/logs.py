"""Quiet, readable console output: one line per finished unit of work, no wall of library warnings."""

from __future__ import annotations

import logging
import os
import sys
import warnings


def quiet_libraries() -> None:
    """Silence Lightning's per-fit banners and the warnings that do not concern the user of a stage."""
    os.environ.setdefault("WANDB_SILENT", "true")
    os.environ.setdefault("PL_DISABLE_FORK", "1")
    for name in (
        "pytorch_lightning",
        "pytorch_lightning.utilities.rank_zero",
        "pytorch_lightning.accelerators.cuda",
        "lightning",
        "lightning.pytorch",
        "lightning.pytorch.utilities.rank_zero",
        "lightning_fabric",
    ):
        logging.getLogger(name).setLevel(logging.ERROR)
    for pattern in (
        ".*does not have many workers.*",
        ".*configure_optimizers.*returned.*None.*",
        ".*GPU available but not used.*",
        ".*litlogger.*",
        ".*LeafSpec.*",
        ".*validation_step.*val_dataloader.*",
        ".*log_every_n_steps.*",  # a fit of fewer batches than the interval: noise for short fits
    ):
        warnings.filterwarnings("ignore", message=pattern)


def say(message: str) -> None:
    """One progress line on stderr (stdout stays free for machine-readable output)."""
    print(message, file=sys.stderr, flush=True)
