"""E8a: random patterns stored per parameter budget M by each learning rule (local solid, nonlocal/backprop dashed).

Left: P_c (half the patterns recalled exactly from 10% flipped bits) against M, log–log, one line per rule and D,
with Gardner's bound for pairwise nets (2 bits per synapse: P = 2D at M = D², i.e. P = 2√M). Right: bits per
parameter P_c·D/M on the fixed-point criterion (the criterion of Gardner's bound) and from 10% flipped bits.
"""

from __future__ import annotations

import math

from .. import references as ref
from .records import best_local_against_nonlocal
from .style import plt

INPUTS = ("budget_patterns.json", "budget_patterns_curves.json")
OUTPUT = "budget_patterns.png"
MARKERS = {"hopfield": "o", "random_features": "s", "quadruplets": "^", "dense": "D"}


def _style(arm: dict) -> str:
    return "-" if arm["locality"] == "local" else "--"


def _series(arm: dict, key: str) -> list[tuple[int, dict]]:
    """(M, capacity entry) per budget, sorted by M."""
    return sorted((entry["M"], entry[key]) for entry in arm["budgets"].values())


def draw(metrics: dict) -> plt.Figure:
    record = metrics[INPUTS[0]]
    arms = record["arms"]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6), constrained_layout=True)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for index, (name, arm) in enumerate(arms.items()):
        colour = colours[index % len(colours)]
        label = f"{name} ({arm['locality']})"
        for ax, key in ((axes[0], "exact"), (axes[1], "fixed_point")):
            series = [(m, c) for m, c in _series(arm, key) if c["P_c"] is not None]
            if not series:
                continue
            ms = [m for m, _ in series]
            names = ("P_c", "P_c_low", "P_c_high") if ax is axes[0] else ("bits_per_parameter", "bits_low", "bits_high")
            ys, low, high = _with_errors([c for _, c in series], *names)
            ax.errorbar(
                ms,
                ys,
                yerr=[low, high],
                fmt=MARKERS[arm["memory"]],
                ls=_style(arm),
                color=colour,
                ms=4,
                capsize=2,
                label=label,
            )
    budgets = [e["M"] for arm in arms.values() for e in arm["budgets"].values()]
    span = [min(budgets), max(budgets)]
    gardner = ref.GARDNER_BITS_PER_SYNAPSE.value
    axes[0].plot(span, [gardner * math.sqrt(m) for m in span], "k:", lw=1, label="Gardner: P = 2D at M = D²")
    axes[0].set(
        xscale="log",
        yscale="log",
        xlabel="parameters M",
        ylabel="P_c (half recalled exactly from 10% flips)",
        title="Patterns stored against the parameter budget",
    )
    axes[1].axhline(gardner, color="k", ls=":", lw=1, label=f"Gardner {gardner:g} bits per synapse")
    axes[1].set(
        xscale="log",
        yscale="log",
        xlabel="parameters M",
        ylabel="bits per parameter P_c·D/M (fixed points)",
        title="Fixed-point capacity per parameter (Gardner's criterion)",
    )
    for ax in axes:
        ax.legend(fontsize=6, ncol=2)
    return fig


def _with_errors(entries: list[dict], value: str, low: str, high: str) -> tuple[list, list, list]:
    """Values and their lower/upper error-bar lengths (0 where an interval end is missing)."""
    ys = [e[value] for e in entries]
    below = [y - (e[low] if e[low] is not None else y) for y, e in zip(ys, entries, strict=True)]
    above = [(e[high] if e[high] is not None else y) - y for y, e in zip(ys, entries, strict=True)]
    return ys, below, above


def section(metrics: dict) -> list[str]:
    """The report's E8a lines: the table of P_c and bits per parameter, then what the numbers say."""
    record = metrics[INPUTS[0]]
    return [
        f"P_c: the number of stored patterns at which half are recalled exactly, from {record['flip_fraction']:.0%} "
        f"flipped bits (synchronous relaxation) or as strict fixed points; 95% intervals resample the "
        f"{record['trials']} trials; bits per parameter = P_c·D/M. Gardner's bound "
        f"({ref.GARDNER_BITS_PER_SYNAPSE.value:g} bits per synapse) applies to pairwise nets on the fixed-point "
        "criterion only; the 10%-flip column is not comparable with it.",
        "",
        *table(metrics),
        "",
        *statement(metrics),
        *[
            f"- {name} was trained for {arm['updates']} gradient updates: a backprop arm below a "
            "local one at these sizes may be undertrained, which is not a limit of backprop."
            for name, arm in record["arms"].items()
            if arm["rule"] == "backprop"
        ],
    ]


def table(metrics: dict) -> list[str]:
    """Markdown rows: P_c and bits per parameter with their 95% intervals per rule and budget."""
    lines = [
        "| rule | locality | memory | D | M | P_c (10% flips) [95%] | bits/param "
        "| fixed-point P_c [95%] | bits/param |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, arm in metrics[INPUTS[0]]["arms"].items():
        for entry in sorted(arm["budgets"].values(), key=lambda e: (e["D"], e["M"])):
            cells = []
            for key in ("exact", "fixed_point"):
                c = entry[key]
                cells += [_interval(c["P_c"], c["P_c_low"], c["P_c_high"], c["status"]), _fmt(c["bits_per_parameter"])]
            lines.append(
                f"| {name} | {arm['locality']} | {arm['memory']} | {entry['D']} | {entry['M']} | "
                + " | ".join(cells)
                + " |"
            )
    return lines


def statement(metrics: dict) -> list[str]:
    """What the numbers say at each fixed budget (memory, D, M) measured with both a local and a nonlocal rule: the
    best local against the best nonlocal bits per parameter from 10% flips, compared by their 95% intervals
    (overlapping intervals: not resolved at these sizes)."""
    budgets: dict[tuple, dict[str, list]] = {}
    for name, arm in metrics[INPUTS[0]]["arms"].items():
        for e in arm["budgets"].values():
            c = e["exact"]
            if c["bits_per_parameter"] is not None:
                slot = budgets.setdefault((arm["memory"], e["D"], e["M"]), {"local": [], "nonlocal": []})
                slot[arm["locality"]].append((c["bits_per_parameter"], c["bits_low"], c["bits_high"], name))
    lines = []
    for (memory, dim, budget), sides in sorted(budgets.items()):
        if (compared := best_local_against_nonlocal(sides)) is None:
            continue
        (lv, ll, lh, ln), (nv, nl, nh, nn), verdict = compared
        lines.append(
            f"- {memory}, D = {dim}, M = {budget}: best local {ln} {_interval(lv, ll, lh)} bits/parameter against best "
            f"nonlocal {nn} {_interval(nv, nl, nh)} from 10% flips; {verdict}."
        )
    return lines


def _fmt(value) -> str:
    return "—" if value is None else f"{value:.3g}"


def _interval(value, low, high, status: str = "measured") -> str:
    if value is None:
        return status
    return f"{value:.3g} [{_fmt(low)}, {_fmt(high)}]"
