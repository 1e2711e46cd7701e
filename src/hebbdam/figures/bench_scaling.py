"""Recall time against the number of memories K and the dimension D, with the GEMM of the same shapes beside it
(drawn from the rows ``hebbdam bench`` measured; nothing is timed here)."""

from __future__ import annotations

from .style import plt

PANELS = (("memories", "K (memories)"), ("dim", "D (dimension)"))
SERIES = (
    ("softmax_s", "softmax recall (repository)", "o-"),
    ("sdpa_s", "torch SDPA", "s--"),
    ("manhattan_s", "Manhattan recall, max separation", "^-"),
    ("gemm_s", "GEMM, the step's two matmul shapes", "k:"),
)


def draw(rows: list[dict]) -> plt.Figure:
    """``rows``: one dict per size with ``axis`` ("memories" or "dim"), the size, the fixed sizes and seconds."""
    fig, axes = plt.subplots(1, 2, figsize=(8.0, 3.2))
    for ax, (axis, label) in zip(axes, PANELS, strict=True):
        points = sorted((r for r in rows if r["axis"] == axis), key=lambda r: r[axis])
        for key, name, style in SERIES:
            xs = [r[axis] for r in points if r.get(key) is not None]
            ys = [r[key] for r in points if r.get(key) is not None]
            if xs:
                ax.plot(xs, ys, style, label=name, markersize=4)
        ax.set_xscale("log")
        ax.set_yscale("log")
        sizes = [r[axis] for r in points]
        ax.set_xticks(sizes, [f"{x:,}" for x in sizes], minor=False)
        ax.xaxis.set_minor_locator(plt.NullLocator())
        ax.set_xlabel(label)
        ax.set_ylabel("seconds per recall step")
        if points:
            fixed = {k: v for k, v in points[0].items() if k in ("memories", "dim", "batch") and k != axis}
            ax.set_title(", ".join(f"{k}={v}" for k, v in fixed.items()), fontsize=8)
    axes[0].legend(loc="upper left")
    fig.suptitle("CPU recall time against size (streamed beyond the chunk, so memory stays bounded)", fontsize=9)
    fig.tight_layout()
    return fig
