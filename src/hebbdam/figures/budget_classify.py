"""E8c: where backprop helps in classification — test error against K for a frozen K&H 2019 layer with a local
(delta-rule) or backprop (top-layer) readout, and for K&H 2016 trained end to end; the gap (2) − (3) against K.

Published anchors (MNIST, 60,000 training images, K = 2000) are drawn as points; the measured curves are on the
record's dataset (mnist5k: 3,000 training images on the laptop), so they are context, not a like-for-like comparison.
"""

from __future__ import annotations

from .. import references as ref
from .style import plt

# the title of this figure's section in reports/README.md
CLAIM = "E8c · Where backprop helps in classification: a local layer and readout against end-to-end training"
# one line of caveats under it
CAVEAT = "mnist5k and K ≤ 100 on the laptop; the published errors are for MNIST at K = 2000."
INPUTS = ("budget_classify.json", "budget_classify_curves.json")
OUTPUT = "budget_classify.png"
ARMS = {
    "delta_readout": ("(1) K&H 2019 layer + delta-rule readout (local)", "tab:green", "-"),
    "top_layer": ("(2) K&H 2019 layer + SGD top layer", "tab:purple", "--"),
    "backprop": ("(3) K&H 2016 end-to-end backprop", "tab:red", "--"),
    "bcpnn_delta_readout": ("(4) BCPNN layer + delta-rule readout (local)", "tab:olive", "-"),
    "bcpnn_top_layer": ("(4) BCPNN layer + SGD top layer", "tab:cyan", "--"),
}


def _entries(record: dict) -> list[dict]:
    return sorted(record["units"].values(), key=lambda e: e["K"])


def draw(metrics: dict) -> plt.Figure:
    record = metrics[INPUTS[0]]
    entries = _entries(record)
    ks = [e["K"] for e in entries]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    ax = axes[0]
    for arm, (label, colour, style) in ARMS.items():
        if not all(arm in e for e in entries):  # a record from before the BCPNN arms
            continue
        ax.errorbar(
            ks,
            [e[arm]["mean"] for e in entries],
            yerr=[e[arm]["std"] for e in entries],
            color=colour,
            ls=style,
            marker="o",
            ms=4,
            capsize=2,
            label=label,
        )
    anchors = (
        (ref.KH2016_MNIST_MEMORIES.value, ref.KH2016_MNIST_ERROR_N2.value, "K&H 2016, MNIST", "tab:red", "*"),
        (ref.KH2019_MNIST_UNITS.value, ref.KH2019_MNIST_ERROR.value, "K&H 2019, MNIST", "tab:purple", "P"),
    )
    for k, error, label, colour, marker in anchors:
        ax.plot([k], [error], marker=marker, color=colour, ms=9, ls="none", label=f"{label}: {error:.2%}")
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="hidden units / memories K",
        ylabel="test error",
        title=f"Test error against K ({record['dataset']}, {record['seeds']} seeds)",
    )
    ax.legend(fontsize=6)
    ax = axes[1]
    for key, label, colour in (
        ("gap_top_layer_minus_backprop", "(2) − (3)", "tab:purple"),
        ("gap_delta_readout_minus_backprop", "(1) − (3)", "tab:green"),
    ):
        ax.errorbar(
            ks,
            [e[key]["mean"] for e in entries],
            yerr=[e[key]["std"] for e in entries],
            color=colour,
            marker="o",
            ms=4,
            capsize=2,
            label=label,
        )
    ax.axhline(0.0, color="k", lw=0.8)
    gap = ref.KH2019_MNIST_ERROR.value - ref.KH2016_MNIST_ERROR_N2.value
    ax.plot([ref.KH2019_MNIST_UNITS.value], [gap], "k*", ms=9, ls="none", label=f"published (2) − (3): {gap:+.2%}")
    ax.set(xscale="log", xlabel="K", ylabel="test-error gap", title="Backprop's advantage against K")
    ax.legend(fontsize=7)
    return fig


def section(metrics: dict) -> list[str]:
    """The report's E8c lines: test errors per K (mean ± std over seeds), the gaps, and what they say."""
    record = metrics[INPUTS[0]]
    entries = _entries(record)
    lines = [
        f"Test errors on {record['dataset']} (mean ± std over {record['seeds']} seeds); (3) is the (n, T) arm and lr "
        "with the lowest validation error (swept at the first seed), each fit stopped at the plateau of its training "
        "loss or at the cap (epochs used per seed, and whether every fit reached the plateau, in the last column; a "
        'K where one did not reads "not converged" instead of a verdict). Published anchors: K&H 2016 '
        f"{ref.KH2016_MNIST_ERROR_N2.value:.1%}, K&H 2019 {ref.KH2019_MNIST_ERROR.value:.2%} (full MNIST, K = 2000: "
        "not comparable with these sizes).",
        "",
        "| K | (1) delta readout | (2) SGD top layer | (3) backprop (chosen n) | (2) − (3) | (1) − (3) | (3): lr, "
        "epochs per seed, converged |",
        "|---|---|---|---|---|---|---|",
    ]
    for e in entries:
        chosen = ", ".join(e["backprop_chosen"])
        lines.append(
            f"| {e['K']} | {_pm(e['delta_readout'])} | {_pm(e['top_layer'])} | {_pm(e['backprop'])} ({chosen}) | "
            f"{_pm(e['gap_top_layer_minus_backprop'])} | {_pm(e['gap_delta_readout_minus_backprop'])} | "
            f"{convergence(e)} |"
        )
    lines.append("")
    lines.append(statement(entries, record["seeds"]))
    lines.extend(bcpnn_lines(entries, record["seeds"]))
    return lines


def _interval(entry: dict) -> str:
    return f"{entry['mean']:.3f} [{entry['low']:.3f}, {entry['high']:.3f}]"


def bcpnn_lines(entries: list[dict], seeds: int) -> list[str]:
    """The BCPNN layer's rows (test error, mean and 95% t-interval over seeds) beside the K&H 2019 layer's, at the
    same K and readouts; nothing for a record from before the BCPNN arms."""
    if not all("bcpnn_top_layer" in e for e in entries):
        return []
    lines = [
        "",
        "BCPNN hidden layer (Bayesian-Hebbian, local, no structural plasticity) with the same readouts, test error "
        f"mean [95% t-interval over {seeds} seeds]:",
        "",
        "| K | (4) BCPNN + delta readout | (1) K&H 2019 + delta readout | (4) BCPNN + SGD top layer "
        "| (2) K&H 2019 + SGD top layer | (4) − (2) |",
        "|---|---|---|---|---|---|",
    ]
    for e in entries:
        lines.append(
            f"| {e['K']} | {_interval(e['bcpnn_delta_readout'])} | {_interval(e['delta_readout'])} | "
            f"{_interval(e['bcpnn_top_layer'])} | {_interval(e['top_layer'])} | "
            f"{_interval(e['gap_bcpnn_minus_kh2019_top_layer'])} |"
        )
    return lines


def statement(entries: list[dict], seeds: int) -> str:
    """Whether the (2) − (3) gap is resolved (|mean| > 2 std, with at least 2 seeds) at each K, and its trend."""
    parts = []
    for e in entries:
        gap = e["gap_top_layer_minus_backprop"]
        if not e["backprop_converged"]:
            why = "stalled at its start's loss" if e.get("backprop_stalled") else "stopped at its cap"
            parts.append(f"K = {e['K']}: {gap['mean']:+.3f} (not converged: backprop {why})")
            continue
        resolved = seeds > 1 and abs(gap["mean"]) > 2 * gap["std"]
        sign = "backprop ahead" if gap["mean"] > 0 else "local features ahead"
        parts.append(f"K = {e['K']}: {gap['mean']:+.3f} ({sign if resolved else 'not resolved at these sizes'})")
    first, last = (e["gap_top_layer_minus_backprop"]["mean"] for e in (entries[0], entries[-1]))
    trend = "shrinks" if abs(last) < abs(first) else "does not shrink"
    return f"- Gap (2) − (3): {'; '.join(parts)}. From the smallest to the largest K the gap {trend}."


def convergence(entry: dict) -> str:
    """lr kept (flagged when it still sits on an edge of the lrs tried), the lrs tried, epochs used per seed, and
    "converged" or "not converged" (any seed stopped at the cap or stalled: flat at its first epoch's loss)."""
    fits = entry["backprop_training"]
    epochs = "/".join(str(f["epochs"]) for f in fits)
    state = "converged" if entry["backprop_converged"] else "not converged"
    state += f" ({entry['backprop_stalled']} stalled)" if entry.get("backprop_stalled") else ""
    edge = " (lr at the edge of the sweep)" if fits[0]["lr_at_edge"] else ""
    tried = ", ".join(f"{lr:g}" for lr in fits[0]["lrs_tried"])
    return f"lr {fits[0]['lr']:g}{edge} of {tried}, {epochs} epochs, {state}"


def _pm(stat: dict) -> str:
    return f"{stat['mean']:.3f} ± {stat['std']:.3f}"
