"""How recall runs: the numeric precision of its matrix products, from the ``engine`` config section.

- ``float32``: full float32 matmuls (TF32 off on CUDA).
- ``tf32``: float32 tensors, matmuls allowed TF32 on CUDA (``set_float32_matmul_precision("high")``); on a CPU
  without reduced-precision float32 matmul units this is float32.
- ``bfloat16``: ``torch.autocast`` to bfloat16 (matmuls and attention in bfloat16, reductions kept in float32);
  distance similarities have no matmul and stay float32.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from .config import Params
from .settings.common import ENGINE_PRECISIONS as PRECISIONS
from .settings.common import precision_name


@contextmanager
def precision(name: str, device: torch.device) -> Iterator[None]:
    """Run the body at precision ``name`` (one of PRECISIONS) on ``device``, restoring the previous settings."""
    if name not in PRECISIONS:
        raise ValueError(f"precision: expected one of {', '.join(PRECISIONS)}, got {name!r}")
    backends = torch.backends
    saved = (torch.get_float32_matmul_precision(), backends.cuda.matmul.allow_tf32, backends.cudnn.allow_tf32)
    tf32 = name == "tf32"
    torch.set_float32_matmul_precision("high" if tf32 else "highest")
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    try:
        if name == "bfloat16":
            with torch.autocast(device.type, dtype=torch.bfloat16):
                yield
        else:
            yield
    finally:
        torch.set_float32_matmul_precision(saved[0])
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved[1], saved[2]


def recall_precision(params: Params, device: torch.device):
    """The context of :func:`precision` named by ``engine.precision`` in ``params``."""
    return precision(precision_name(params), device)
