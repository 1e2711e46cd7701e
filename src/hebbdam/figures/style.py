"""Shared figure plumbing: a deterministic PNG writer and the house style."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .. import io  # noqa: E402

plt.rcParams.update(
    {
        "figure.dpi": 100,
        "savefig.dpi": 120,
        "font.size": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "legend.frameon": False,
        "legend.fontsize": 7,
        "svg.hashsalt": "hebbdam",
    }
)


def save(fig, path: str | Path) -> Path:
    """Write ``fig`` as PNG with no timestamp or version metadata (same data → same bytes), atomically."""
    path = Path(path)
    io.atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", metadata={"Software": None}))
    plt.close(fig)
    return path
