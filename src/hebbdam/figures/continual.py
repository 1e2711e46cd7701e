"""E7 continual learning: the forgetting curves — recall of each task (one line per task, 95% intervals over seeds)
against the number of tasks learned, one panel per arm (incremental Hebbian rules, one-shot slots, the DAM trained by
backprop per power n with and without a replay buffer); the last panel: the average final recall and the backward
transfer (BWT, negative = forgetting) per arm. The gain of rehearsal in BWT is compared with McAlister, Robins &
Szymanski 2025 ("rehearsal works well" in the DAM; a sign-only claim)."""

from __future__ import annotations

import math

from .. import comparison as cmp
from .style import plt

# the title of this figure's section in reports/README.md
CLAIM = "E7 · Continual learning: what a DAM trained by backprop forgets, with and without rehearsal"
# one line of caveats under it
CAVEAT = (
    "Random ±1 pattern sets (permuted per task) at laptop D = 64, not McAlister et al.'s five permuted-MNIST tasks; "
    "no gradient-episodic method or regulariser is run."
)
INPUTS = ("continual.json", "continual_curves.json")
OUTPUT = "continual.png"
SOURCE = "McAlister, Robins & Szymanski 2025 (Neural Computation; arXiv:2409.15729)"
CRITERION = (
    "BWT gain of the replay buffer, paired by seed: mean over t < T of R[t, T] − R[t, t], R the fraction of a task's "
    "patterns recalled exactly from 10%-flipped probes"
)


def _panel(ax, name: str, rows: list[dict], entry: dict) -> None:
    for task in sorted({r["task"] for r in rows}):
        line = sorted((r for r in rows if r["task"] == task), key=lambda r: r["after"])
        xs = [r["after"] for r in line]
        ys = [r["recall"] for r in line]
        errors = [[r["recall"] - r["low"] for r in line], [r["high"] - r["recall"] for r in line]]
        ax.errorbar(xs, ys, yerr=errors, fmt="o-", ms=3, capsize=2, label=f"task {task}")
    training = entry.get("training")
    flag = "" if training is None or training["converged"] else f", {training['unconverged']} fits unconverged"
    ax.set_title(f"{name} ({entry['locality']}{flag})", fontsize=9)
    ax.set_ylim(-0.05, 1.05)
    ax.set_xticks(sorted({r["after"] for r in rows}))
    ax.set_xlabel("tasks learned")


def draw(metrics: dict) -> plt.Figure:
    record, curves = metrics[INPUTS[0]], metrics[INPUTS[1]]
    arms = record["arms"]
    panels = len(arms) + 1
    columns = min(5, panels)
    rows_count = math.ceil(panels / columns)
    fig, axes = plt.subplots(rows_count, columns, figsize=(3.4 * columns, 3.0 * rows_count), constrained_layout=True)
    flat = list(axes.flat) if hasattr(axes, "flat") else [axes]
    for ax, (name, entry) in zip(flat, arms.items(), strict=False):
        _panel(ax, name, [r for r in curves if r["arm"] == name], entry)
    flat[0].set_ylabel("fraction of the task recalled")
    flat[0].legend(fontsize=7)
    summary = flat[len(arms)]
    names = list(arms)
    for offset, (key, label) in enumerate((("final", "final recall A"), ("bwt", "BWT"))):
        values = [arms[n][key] for n in names]
        xs = [i + 0.4 * offset for i in range(len(names))]
        errors = [[v["value"] - v["low"] for v in values], [v["high"] - v["value"] for v in values]]
        summary.bar(xs, [v["value"] for v in values], 0.4, yerr=errors, capsize=2, label=label)
    summary.axhline(0.0, color="k", lw=0.5)
    summary.set_xticks([i + 0.2 for i in range(len(names))], names, rotation=60, fontsize=7, ha="right")
    summary.set_title("average final recall and backward transfer", fontsize=9)
    summary.legend(fontsize=7)
    for ax in flat[panels:]:
        ax.set_visible(False)
    fig.suptitle(
        f"E7: {record['tasks']} {record['layout']} tasks of {record['per_task']} patterns, D = {record['dim']}, "
        f"{record['seeds']} seeds"
    )
    return fig


def comparisons(metrics: dict) -> list[dict]:
    """Per power n: rehearsal against no rehearsal (the BWT gain, paired by seed). A fit that did not reach its
    plateau makes the row inconclusive (no verdict on an unconverged fit)."""
    record = metrics[INPUTS[0]]
    rows = []
    for name, effect in record["rehearsal_effects"].items():
        gain = effect["bwt_gain"]
        verdict = cmp.positive(gain) if effect["converged"] else cmp.INCONCLUSIVE
        rows.append(
            cmp.row(
                f"E7 {name}: rehearsal lowers forgetting of the backprop DAM (F = {effect['separation']})",
                CRITERION,
                gain["value"],
                "rehearsal is effective (> 0)",
                SOURCE,
                verdict=verdict,
                interval=(gain["low"], gain["high"]),
                note=f"against {effect['without']}; their tasks: five permuted MNIST tasks, ours: "
                f"{record['tasks']} {record['layout']} sets of {record['per_task']} random patterns (a sign claim, "
                "no number: their code, hmcalister/Hopfield-Network-PyTorch, holds the DAM but no sequential runs)"
                + ("" if effect["converged"] else "; some fits stopped at the cap, not on the plateau"),
                headline=True,
            )
        )
    return rows


def section(metrics: dict) -> list[str]:
    """The per-arm summary table: average final recall, BWT, task 1 at the end (95% intervals over seeds), fits."""
    record = metrics[INPUTS[0]]
    lines = [
        "| arm | locality | final recall A | BWT | task 1 at the end | fits (converged / all, mean updates) |",
        "|---|---|---|---|---|---|",
    ]
    for name, entry in record["arms"].items():
        cells = [f"{entry[k]['value']:.3f} [{entry[k]['low']:.3f}, {entry[k]['high']:.3f}]" for k in KEYS]
        training = entry.get("training")
        fits = (
            "—"
            if training is None
            else f"{training['fits'] - training['unconverged']} / {training['fits']}, {training['updates_mean']:.0f}"
        )
        lines.append(f"| {name} | {entry['locality']} | " + " | ".join(cells) + f" | {fits} |")
    for name, effect in record["rehearsal_effects"].items():
        arm = record["arms"][name]
        share = arm["rehearsal"] / record["per_task"]
        first, without = arm["first_task_final"], record["arms"][effect["without"]]["first_task_final"]
        lines += [
            "",
            f"{name}: the buffer replays {arm['rehearsal']} of each task's {record['per_task']} patterns "
            f"({share:.2f}); task 1 recalled at the end {first['value']:.2f} [{first['low']:.2f}, {first['high']:.2f}]"
            f" (without the buffer, {effect['without']}: {without['value']:.2f}).",
        ]
    return lines


KEYS = ("final", "bwt", "first_task_final")
