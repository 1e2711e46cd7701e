"""Figure of E2 (Krotov & Hopfield 2016, Appendix B): final max overlap from random starts, and K½(D) for n = 3."""

from __future__ import annotations

import numpy as np

from .. import comparison as cmp
from .. import references as ref
from .style import plt

# the title of this figure's section in reports/README.md
CLAIM = "E2 · Where random starts end in a dense memory (Krotov & Hopfield 2016, Appendix B)"
# one line of caveats under it
CAVEAT = "100 random starts per model; K½(D) is compared with the curve of K&H's Eq. (6), not with an exponent."
INPUTS = ("appendix_b.json", "appendix_b_curves.json")
OUTPUT = "appendix_b.png"


def _histogram_panel(ax, histograms: list[dict], rectified: bool, record: dict) -> None:
    chosen = [h for h in histograms if h["rectified"] == rectified]
    colours = plt.cm.viridis(np.linspace(0.1, 0.85, max(1, len(chosen))))
    width = 2.0 / record["dim"]
    for colour, hist in zip(colours, chosen, strict=True):
        total = sum(hist["count"])
        arm = record["arms"][hist["arm"]]
        label = f"n={hist['n']}: {arm['exact_fraction']:.0%} on a memory" + (" (|overlap|)" if arm["mirror"] else "")
        ax.bar(
            hist["max_overlap"], [c / total for c in hist["count"]], width=width, color=colour, alpha=0.75, label=label
        )
    ax.set(
        title=f"{'rectified ReLU(x)ⁿ' if rectified else 'power xⁿ'}: D={record['dim']}, K={record['memories']}, "
        f"{record['starts']} random starts",
        xlabel="final max_μ ξ_μ·σ / D",
        ylabel="fraction of starts",
        xlim=(0, 1.05),
    )
    ax.legend(
        loc="upper left",
        title=f"n ≥ {ref.APPENDIX_B_ALL_MEMORIES_POWER.value}: all on memories (Krotov & Hopfield 2016, App. B)",
        title_fontsize=6,
    )


def draw(metrics: dict) -> plt.Figure:
    """``metrics``: {"appendix_b.json": record, "appendix_b_curves.json": {"histograms": […], "half": […]}}."""
    record, curves = metrics["appendix_b.json"], metrics["appendix_b_curves.json"]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4), constrained_layout=True)
    _histogram_panel(axes[0], curves["histograms"], False, record)
    _histogram_panel(axes[1], curves["histograms"], True, record)

    ax = axes[2]
    half = record["half"]
    dims = sorted({p["D"] for p in curves["half"]})
    inset = ax.inset_axes([0.58, 0.1, 0.4, 0.35])
    for dim in dims:
        points = [p for p in curves["half"] if p["D"] == dim]
        inset.plot([p["K"] for p in points], [p["exact_fraction"] for p in points], "-o", ms=2, label=f"D={dim}")
    inset.axhline(0.5, color="k", lw=0.6, ls=":")
    inset.set(xscale="log", xlabel="K", ylabel="on a memory")
    inset.tick_params(labelsize=6)
    found = [(d, half["k_half"][f"D{d}"]) for d in half["dims"] if half["k_half"][f"D{d}"] is not None]
    if found:
        ax.plot(
            [d for d, _ in found],
            [k for _, k in found],
            "o-",
            color="tab:blue",
            label=f"measured K½, slope {half['exponent']}",
        )
        grid = np.geomspace(min(dims), max(dims), 30)
        n = half["n"]
        ax.plot(
            grid,
            [ref.dam_no_error_capacity(d, n) for d in grid],
            color="tab:red",
            lw=1,
            label=f"no-error K = D^{n - 1}/(2(2n-3)!! ln D) (Krotov & Hopfield 2016, {ref.DAM_NO_ERROR_EQUATION})",
        )
        ratios = half.get("ratio_to_no_error", {})
        for d, k in found:
            if f"D{d}" in ratios:
                ax.annotate(f"×{ratios[f'D{d}']:.2g}", (d, k), textcoords="offset points", xytext=(4, -10), fontsize=6)
    ax.set(xscale="log", yscale="log", xlabel="D (neurons)", ylabel="K½", title=f"K½(D), n={half['n']}")
    ax.legend(loc="upper left", fontsize=6)
    return fig


def comparisons(metrics: dict) -> list[dict]:
    """Measured against published for reports/README.md."""
    record = metrics["appendix_b.json"]
    rows = []
    all_power = ref.APPENDIX_B_ALL_MEMORIES_POWER
    for name, arm in record["arms"].items():
        if arm["n"] >= all_power.value:
            low, high = cmp.wilson(arm["exact_fraction"], record["starts"])
            rows.append(
                cmp.row(
                    f"E2 starts ending on a memory, {name}, D={record['dim']}, K={record['memories']}",
                    "fraction of random ±1 starts whose asynchronous relaxation ends exactly on a stored memory",
                    arm["exact_fraction"],
                    published=1.0,
                    source=all_power.citation,
                    verdict=cmp.interval_test(1.0, (low, high)),
                    interval=(low, high),
                    note=f"{record['starts']} starts (Wilson interval); the paper: every start, for n ≥ 5",
                    headline=arm["n"] == all_power.value and not arm.get("rectified", False),
                )
            )
    half = record["half"]
    ratios = half.get("ratio_to_no_error", {})
    if ratios:
        text = ", ".join(f"D={d}: {ratios[f'D{d}']:.3g}" for d in half["dims"] if f"D{d}" in ratios)
        rows.append(
            cmp.row(
                f"E2 K½(D) / Eq. (6) no-error K(D), n={half['n']}",
                "K at which half the random ±1 starts end exactly on a memory (asynchronous relaxation), divided by "
                "the Eq. (6) curve at the same D",
                text,
                published=f"Eq. (6) curve D^{half['n'] - 1}/(2(2n-3)!! ln D)",
                source=f"{ref.DAM_CAPACITY_CITATION}, {ref.DAM_NO_ERROR_EQUATION}",
                published_criterion=ref.DAM_NO_ERROR_CRITERION,
                note=f"{half['starts']} starts per D; a flat ratio means K½ follows the Eq. (6) curve's D-dependence "
                "(the exponent fit is no longer reported as a comparison)",
            )
        )
    return rows
