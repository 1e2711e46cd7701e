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


# no timestamp or version in either file: the same data gives the same bytes
PNG_METADATA = {"Software": None}
PDF_METADATA = {"Creator": None, "Producer": None, "CreationDate": None}


def save(fig, path: str | Path) -> Path:
    """Write ``fig`` as PNG (the README's) at ``path`` and as PDF (vector, for a paper) beside it, each atomically."""
    path = Path(path)
    io.atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", metadata=PNG_METADATA))
    io.atomic_write(path.with_suffix(".pdf"), lambda tmp: fig.savefig(tmp, format="pdf", metadata=PDF_METADATA))
    plt.close(fig)
    return path
