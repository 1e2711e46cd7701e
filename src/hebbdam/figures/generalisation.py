"""E6 figure: memorised, spurious and generalised fractions against the training-set size K, one panel per arm."""

from __future__ import annotations

from .. import references as ref
from .style import plt

INPUTS = ("generalisation.json", "generalisation_curves.json")
OUTPUT = "generalisation.png"
TITLES = {
    "optimal": "optimal denoiser = softmax DAM over K",
    "hebbian": "Hebbian pairwise memory (binarised)",
    "backprop": "fixed-size memory, backprop (DSM)",
}
STYLE = {"memorised": ("tab:blue", "-o"), "spurious": ("tab:red", "-s"), "generalised": ("tab:green", "-^")}


def draw(metrics: dict) -> plt.Figure:
    record, curves = metrics["generalisation.json"], metrics["generalisation_curves.json"]
    arms = [a for a in TITLES if a in record["arms"]] + [a for a in record["arms"] if a not in TITLES]
    fig, axes = plt.subplots(1, len(arms), figsize=(4.3 * len(arms), 3.6), squeeze=False, constrained_layout=True)
    for ax, arm in zip(axes[0], arms, strict=True):
        points = sorted((p for p in curves if p["arm"] == arm), key=lambda p: p["K"])
        ks = [p["K"] for p in points]
        for name, (colour, style) in STYLE.items():
            ax.plot(ks, [p[name] for p in points], style, ms=4, color=colour, label=name)
        transition = record["arms"][arm].get("transition_K")
        if transition is not None:
            ax.axvline(transition, color="grey", lw=0.8, ls=":", label=f"memorised = ½ at K ≈ {transition:.0f}")
        ax.set(
            xscale="log",
            ylim=(-0.03, 1.03),
            xlabel="training images K",
            ylabel="fraction of samples",
            title=TITLES.get(arm, arm),
        )
        ax.legend(loc="center left", fontsize=6)
    axes[0][0].text(
        0.02,
        0.02,
        "published shape: memorised ↓, spurious peaks at the transition, generalised ↑\n"
        + ref.PHAM_CITATION.split(" (")[0],
        transform=axes[0][0].transAxes,
        fontsize=5,
        va="bottom",
    )
    fig.suptitle(
        f"{record['dataset']}: {record['samples']} samples per K; δ_m = {record['delta_memorised']:.3g}, "
        f"δ_s = {record['delta_spurious']:.3g}, σ_min = {record['sigma_min']:.3g} "
        f"(median NN distance {record['median_nn_distance']:.3g})"
    )
    return fig


def comparisons(metrics: dict) -> list[dict]:
    record = metrics["generalisation.json"]
    shape, source = ref.PHAM_TRANSITION_SHAPE
    rows = []
    for arm, entry in record["arms"].items():
        ks = sorted(int(k[1:]) for k in entry if k.startswith("K") and k[1:].isdigit())
        if len(ks) < 2:
            continue
        first, last = entry[f"K{ks[0]}"], entry[f"K{ks[-1]}"]
        rows.append(
            {
                "quantity": f"E6 {arm}: memorised fraction K={ks[0]} → K={ks[-1]}",
                "measured": f"{first['memorised']:.2f} → {last['memorised']:.2f}",
                "published": "falls with K",
                "source": source,
                "note": shape,
            }
        )
        rows.append(
            {
                "quantity": f"E6 {arm}: generalised fraction K={ks[0]} → K={ks[-1]}; spurious peak at K",
                "measured": f"{first['generalised']:.2f} → {last['generalised']:.2f}; {entry['spurious_peak_K']}",
                "published": "rises with K; peak at the transition",
                "source": source,
                "note": f"transition (memorised = ½) at K ≈ {entry['transition_K']}",
            }
        )
    return rows
