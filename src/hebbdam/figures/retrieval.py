"""E3 figure: fraction of images retrieved against N, per corruption: UHN similarities, UHN separations, and the
Hebbian / DAM arms on binarised images (same queries, same threshold)."""

from __future__ import annotations

import numpy as np

from .. import references as ref
from .style import plt

INPUTS = ("retrieval.json", "retrieval_curves.json")
OUTPUT = "retrieval.png"
SEPARATION_FOR_SIMILARITIES = "max"  # the similarity panel holds the separation fixed (falls back to the first)
SIMILARITY_FOR_SEPARATIONS = "euclidean"  # the separation panel holds the similarity fixed (falls back to the first)


def _curve(curves: list[dict], family: str, arm: str, corruption: str) -> tuple[list[int], list[float]]:
    points = sorted(
        (p for p in curves if (p["family"], p["arm"], p["corruption"]) == (family, arm, corruption)),
        key=lambda p: p["N"],
    )
    return [p["N"] for p in points], [p["retrieved"] for p in points]


def draw(metrics: dict) -> plt.Figure:
    record, curves = metrics["retrieval.json"], metrics["retrieval_curves.json"]
    corruptions = list(record["uhn"])
    similarities = list(next(iter(record["uhn"].values())))
    separations = list(next(iter(next(iter(record["uhn"].values())).values())))
    fixed_sep = SEPARATION_FOR_SIMILARITIES if SEPARATION_FOR_SIMILARITIES in separations else separations[0]
    fixed_sim = SIMILARITY_FOR_SEPARATIONS if SIMILARITY_FOR_SEPARATIONS in similarities else similarities[0]
    fig, axes = plt.subplots(
        len(corruptions), 3, figsize=(13, 3.3 * len(corruptions)), squeeze=False, constrained_layout=True
    )
    colours = plt.cm.tab10(np.arange(10))
    for row, corruption in enumerate(corruptions):
        ax_sim, ax_sep, ax_bin = axes[row]
        for i, sim in enumerate(similarities):
            ax_sim.plot(
                *_curve(curves, "uhn", f"{sim}/{fixed_sep}", corruption), "-o", ms=3, color=colours[i], label=sim
            )
        for i, sep in enumerate(separations):
            ax_sep.plot(
                *_curve(curves, "uhn", f"{fixed_sim}/{sep}", corruption), "-o", ms=3, color=colours[i], label=sep
            )
        for i, arm in enumerate(record["binary"].get(corruption, {})):
            ax_bin.plot(*_curve(curves, "binary", arm, corruption), "-s", ms=3, color=colours[i], label=arm)
        ax_bin.plot(
            *_curve(curves, "uhn", f"{fixed_sim}/{fixed_sep}", corruption),
            "k:",
            lw=1,
            label=f"UHN {fixed_sim}/{fixed_sep} (continuous)",
        )
        titles = (
            f"similarity (separation {fixed_sep})",
            f"separation (similarity {fixed_sim})",
            "±1 images: Hebbian, DAM, softmax",
        )
        for ax, title in zip((ax_sim, ax_sep, ax_bin), titles, strict=True):
            ax.set(
                xscale="log",
                ylim=(-0.03, 1.03),
                xlabel="images stored N",
                ylabel="fraction retrieved",
                title=f"{corruption}: {title}",
            )
        ax_sim.legend(
            loc="lower left", title="published: Euclidean, Manhattan ≫ dot (Millidge et al. 2022)", title_fontsize=6
        )
        ax_sep.legend(loc="lower left", title="published: sharper separation > identity", title_fontsize=6)
        ax_bin.legend(loc="lower left", fontsize=6)
    fig.suptitle(
        f"{record['dataset']} (D={record['dim']}): correct when Σ(x - out)² ≤ {record['threshold']:.2f} "
        f"= {ref.UHN_ERROR_THRESHOLD.value:g}·D/{ref.UHN_ERROR_THRESHOLD_DIM} ({ref.UHN_CITATION.split(',')[0]} 2022)"
    )
    return fig


def comparisons(metrics: dict) -> list[dict]:
    """Measured against published (qualitative orderings: the measured value is a difference of mean fraction
    retrieved over the N grid; > 0 means the published ordering holds)."""
    rows = []
    for corruption, entry in metrics["retrieval.json"]["orderings"].items():
        for key, value in entry.items():
            published, source = (
                ref.UHN_SIMILARITY_ORDERING if key.endswith("_minus_dot") else ref.UHN_SEPARATION_ORDERING
            )
            rows.append(
                {
                    "quantity": f"E3 {corruption}: {key.replace('_', ' ')} (mean fraction retrieved)",
                    "measured": value,
                    "published": "> 0",
                    "source": source,
                    "note": published + ("" if value > 0 else " — NOT reproduced here"),
                }
            )
    return rows
