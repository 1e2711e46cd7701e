"""E3 example panel (the prospectus's Figure 1): one masked query → Amari, Kohonen, DAM and softmax recall."""

from __future__ import annotations

import numpy as np

from .style import plt

# the title of this figure's section in reports/README.md
CLAIM = "E3 · One masked query through Amari, Kohonen, DAM and softmax recall"
# one line of caveats under it
CAVEAT = "An illustration of one query; no number rests on it."
INPUTS = ("retrieval_examples.json",)
OUTPUT = "retrieval_examples.png"
COLUMNS = (  # key in the examples file → column title
    ("original", "original"),
    ("binarised", "stored (±1 → {0,1})"),
    ("query", "query"),
    ("amari", "Amari (pairwise, sign)"),
    ("kohonen", "Kohonen (linear, rescaled)"),
    ("dense", "DAM xⁿ"),
    ("softmax", "softmax"),
)


def _image(values: list[float], shape: list[int]) -> np.ndarray:
    c, h, w = shape
    array = np.asarray(values, dtype=float).reshape(c, h, w)
    return array[0] if c == 1 else np.clip(array.transpose(1, 2, 0), 0, 1)


def draw(metrics: dict) -> plt.Figure:
    ex = metrics["retrieval_examples.json"]
    images, shape = ex["images"], ex["shape"]
    rows = len(images["original"])
    fig, axes = plt.subplots(
        rows, len(COLUMNS), figsize=(1.6 * len(COLUMNS), 1.7 * rows), squeeze=False, constrained_layout=True
    )
    for r in range(rows):
        for c, (key, title) in enumerate(COLUMNS):
            ax = axes[r][c]
            ax.imshow(_image(images[key][r], shape), cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(title.replace("xⁿ", f"n={ex['dam_n']}") if key == "dense" else title, fontsize=7)
    fig.suptitle(f"{ex['corruption']} query, {ex['stored']} images stored (softmax β={ex['softmax_beta']:g})")
    return fig


def comparisons(metrics: dict) -> list[dict]:
    return []
