"""E7 continual learning: the forgetting curves — recall of each task (one line per task, 95% intervals over seeds)
against the number of tasks learned, one panel per arm (incremental Hebbian rules, one-shot slots, the DAM trained by
backprop per power n with and without a replay buffer); the last panel: the average final recall and the backward
transfer (BWT, negative = forgetting) per arm; forgetting (BWT) of the backprop DAM against the power n, per way of
protecting the earlier tasks (none, a replay buffer, A-GEM's projection, GEM's cone, EWC's anchor, pseudorehearsal)
(McAlister, Robins & Szymanski 2025 report transitions with n, with no direction or number readable offline); what
rehearsal keeps: the gain in BWT beside the gain on the patterns the buffer never replayed and the buffer's share R/P,
against the published claim "rehearsal is effective" (> 0, shaded; a sign-only claim)."""

from __future__ import annotations

import math

from .. import comparison as cmp
from .. import references as ref
from .style import plt

# the title of this figure's section in reports/README.md
CLAIM = "E7 · Continual learning: what a DAM trained by backprop forgets, with and without rehearsal"
# one line of caveats under it
CAVEAT = (
    "Random ±1 pattern sets (permuted per task) at laptop D = 64, not McAlister et al.'s five permuted-MNIST tasks; "
    "A-GEM, GEM, EWC and pseudorehearsal are run; at n = 3 the gains of A-GEM and GEM are small and move with the lr "
    "(on 20 seeds at this lr both are above 0, 0.08 and 0.12; conf/experiment/continual.yaml), at n = 4 they hold; "
    "the paper's results "
    "section was not readable offline, so its anchors are words (rehearsal is effective; transitions with n), not "
    "numbers."
)
INPUTS = ("continual.json", "continual_curves.json")
OUTPUT = "continual.png"
SOURCE = ref.SEQUENTIAL_DAM_CITATION
CRITERION = (
    "BWT gain of the replay buffer, paired by seed: mean over t < T of R[t, T] − R[t, t], R the fraction of a task's "
    "patterns recalled exactly from 10%-flipped probes"
)
BEYOND_CRITERION = (
    "gain of the replay buffer on the earlier tasks' patterns it never replayed, paired by seed: their fraction "
    "recalled exactly from 10%-flipped probes after the last task, with the buffer minus without"
)
BEYOND_PUBLISHED_CRITERION = (
    "performance on permuted-MNIST tasks after replaying a sample of each: the unreplayed images share the replayed "
    "ones' structure (our random patterns share none, so only memorised items can be kept)"
)
VERTEX_CRITERION = (
    "change in BWT from the lowest to the highest power n of the backprop DAM (same K and buffer), paired by seed"
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
    flag += f" ({training['stalled']} stalled)" if training is not None and training.get("stalled") else ""
    ax.set_title(f"{name} ({entry['locality']}{flag})", fontsize=9)
    ax.set_ylim(-0.05, 1.05)
    ax.set_xticks(sorted({r["after"] for r in rows}))
    ax.set_xlabel("tasks learned")


def _protection(entry: dict) -> tuple[str, int, float]:
    """How a backprop arm protects the earlier tasks: (method, buffer per task, strength); older records: plain."""
    return entry.get("method", "plain"), entry["rehearsal"], entry.get("strength", 0.0)


def _protection_label(method: str, rehearsal: int, strength: float) -> str:
    if method == "agem":
        return f"A-GEM, memory {rehearsal} per task"
    if method == "gem":
        return f"GEM, memory {rehearsal} per task"
    if method == "ewc":
        return f"EWC, λ = {strength:g}"
    if method == "pseudo":
        return f"pseudorehearsal, {rehearsal} per task"
    return f"replay {rehearsal} per task" if rehearsal else "no buffer"


def _vertex_panel(ax, record: dict) -> None:
    """BWT of the backprop arms against n, one line per protection (none, replay, A-GEM, GEM, EWC,
    pseudorehearsal)."""
    arms = {
        name: entry
        for name, entry in record["arms"].items()
        if entry["rule"] == "backprop" and (entry.get("separation_fields") or {}).get("n") is not None
    }
    for protection in sorted({_protection(entry) for entry in arms.values()}):
        line = sorted(
            (
                (entry["separation_fields"]["n"], entry["bwt"])
                for entry in arms.values()
                if _protection(entry) == protection
            ),
            key=lambda pair: pair[0],
        )
        xs, values = [n for n, _ in line], [v for _, v in line]
        errors = [[v["value"] - v["low"] for v in values], [v["high"] - v["value"] for v in values]]
        label = _protection_label(*protection)
        ax.errorbar(xs, [v["value"] for v in values], yerr=errors, fmt="o-", capsize=2, label=label)
    ax.axhline(0.0, color="k", lw=0.5)
    ax.set_xticks(sorted({entry["separation_fields"]["n"] for entry in arms.values()}))
    ax.set_xlabel("power n of F = x^n")
    ax.set_ylabel("BWT (negative = forgetting)")
    ax.set_title("backprop DAM: forgetting against n\n(published: transitions with n, no number offline)", fontsize=8)
    ax.legend(fontsize=7)


def _rehearsal_panel(ax, record: dict) -> None:
    """Per rehearsal arm: its BWT gain, its gain beyond the buffer and the buffer's share R/P, over the published
    claim's region (> 0)."""
    effects = record["rehearsal_effects"]
    names = list(effects)
    for offset, (key, label) in enumerate((("bwt_gain", "BWT gain"), ("beyond_gain", "gain beyond the buffer"))):
        values = [effects[name].get(key) for name in names]
        kept = [(i, v) for i, v in enumerate(values) if v is not None]
        xs = [i + 0.4 * offset for i, _ in kept]
        errors = [[v["value"] - v["low"] for _, v in kept], [v["high"] - v["value"] for _, v in kept]]
        ax.bar(xs, [v["value"] for _, v in kept], 0.4, yerr=errors, capsize=2, label=label)
    for i, name in enumerate(names):
        share = record["arms"][name]["rehearsal"] / record["per_task"]
        ax.hlines(
            share, i - 0.2, i + 0.6, colors="k", linestyles="dashed", label="buffer share R/P" if i == 0 else None
        )
    ax.axhspan(0.0, 1.0, color="tab:green", alpha=0.08, label="published: rehearsal effective (> 0)")
    ax.axhline(0.0, color="k", lw=0.5)
    ax.set_xticks([i + 0.2 for i in range(len(names))], names, rotation=60, fontsize=7, ha="right")
    ax.set_title("what rehearsal keeps (McAlister et al. 2025: > 0)", fontsize=8)
    ax.legend(fontsize=6)


def draw(metrics: dict) -> plt.Figure:
    record, curves = metrics[INPUTS[0]], metrics[INPUTS[1]]
    arms = record["arms"]
    panels = len(arms) + 3
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
    _vertex_panel(flat[len(arms) + 1], record)
    _rehearsal_panel(flat[len(arms) + 2], record)
    for ax in flat[panels:]:
        ax.set_visible(False)
    fig.suptitle(
        f"E7: {record['tasks']} {record['layout']} tasks of {record['per_task']} patterns, D = {record['dim']}, "
        f"{record['seeds']} seeds"
    )
    return fig


def comparisons(metrics: dict) -> list[dict]:
    """Per power n: rehearsal against no rehearsal (the BWT gain, paired by seed; a fit that did not reach its plateau
    makes the row inconclusive), A-GEM, GEM, EWC and pseudorehearsal against plain training (the same), the gain on the
    patterns the buffer never replayed (not comparable: random patterns share nothing with the replayed ones, MNIST
    digits do), and per buffer size the change of BWT from the lowest to the highest n (not comparable: the paper's
    measure of its transitions with n was not readable offline)."""
    record = metrics[INPUTS[0]]
    tasks = f"{record['tasks']} {record['layout']} sets of {record['per_task']} random patterns"
    claim, claim_note = ref.SEQUENTIAL_DAM_REHEARSAL
    rows = []
    for name, effect in record["rehearsal_effects"].items():
        rows.append(_rehearsal_row(name, effect, tasks, claim, claim_note))
        beyond = effect.get("beyond_gain")
        if beyond is not None:
            rows.append(
                _signed_row(
                    f"E7 {name}: rehearsal gain on the patterns never replayed (F = {effect['separation']})",
                    BEYOND_CRITERION,
                    beyond,
                    claim,
                    effect["converged"],
                    published_criterion=BEYOND_PUBLISHED_CRITERION,
                    note=f"against {effect['without']}; {claim_note}; ours: {tasks}",
                )
            )
    rows += [_method_row(name, effect, record, tasks) for name, effect in record.get("method_effects", {}).items()]
    vertex, vertex_note = ref.SEQUENTIAL_DAM_VERTEX
    for effect in record.get("vertex_effects", {}).values():
        change, learned = effect["bwt_change"], effect["learned_change"]
        buffer = _protection_label(effect.get("method", "plain"), effect["rehearsal"], 0.0)
        rows.append(
            _signed_row(
                f"E7 backprop DAM, {buffer}: forgetting from n = {effect['n_low']} to n = {effect['n_high']}",
                VERTEX_CRITERION,
                change,
                vertex,
                effect["converged"],
                published_criterion=ref.SEQUENTIAL_DAM_VERTEX_CRITERION,
                note=f"{effect['high']} against {effect['low']} (> 0: less forgetting at higher n; the recall right "
                f"after learning moves by {learned['value']:.2f} [{learned['low']:.2f}, {learned['high']:.2f}]: "
                f"a power that learns nothing forgets nothing); {vertex_note}; "
                f"theirs: {ref.SEQUENTIAL_DAM_PROTOCOL}; ours: {tasks}",
            )
        )
    return rows


def _signed_row(quantity: str, criterion: str, estimate: dict, claim: str, converged: bool, **extra) -> dict:
    """A row for a claim "> 0" against a paired difference ``estimate`` (value, low, high): its sign verdict when
    every fit converged, else inconclusive (``extra``: published_criterion, note, headline)."""
    verdict = cmp.positive(estimate) if converged else cmp.INCONCLUSIVE
    interval = (estimate["low"], estimate["high"])
    return cmp.row(quantity, criterion, estimate["value"], claim, SOURCE, verdict=verdict, interval=interval, **extra)


METHOD_NAMES = {"agem": "A-GEM", "gem": "GEM", "ewc": "EWC", "pseudo": "pseudorehearsal"}


def _method_row(name: str, effect: dict, record: dict, tasks: str) -> dict:
    """A-GEM, GEM, EWC or pseudorehearsal against plain training of the same memory: the BWT gain, with what learning it
    cost in the note."""
    claim, claim_note = ref.SEQUENTIAL_DAM_METHODS
    arm, learned, final = record["arms"][name], effect["learned_gain"], effect["final_gain"]
    method = METHOD_NAMES.get(effect["method"], effect["method"])
    return _signed_row(
        f"E7 {name}: {method} lowers forgetting of the backprop DAM (F = {arm['separation']})",
        CRITERION.replace("of the replay buffer", f"of {method}"),
        effect["bwt_gain"],
        claim,
        effect["converged"],
        note=f"against {effect['without']}; the final recall A moves by {final['value']:.2f} [{final['low']:.2f}, "
        f"{final['high']:.2f}], the recall right after learning L by {learned['value']:.2f} [{learned['low']:.2f}, "
        f"{learned['high']:.2f}] (a method that stops learning also stops forgetting); {claim_note}; "
        f"theirs: {ref.SEQUENTIAL_DAM_PROTOCOL}; ours: {tasks}"
        + ("" if effect["converged"] else "; some fits stopped at the cap, not on the plateau"),
    )


def _rehearsal_row(name: str, effect: dict, tasks: str, claim: str, claim_note: str) -> dict:
    """Rehearsal against no rehearsal: the BWT gain, with what it is made of in the note."""
    gain = effect["bwt_gain"]
    buffer, beyond = effect.get("buffer_final"), effect.get("beyond_gain")
    made_of = (
        ""
        if buffer is None
        else f"; the replayed patterns recalled at the end {buffer['value']:.2f}"
        + ("" if beyond is None else f", the gain on the rest {beyond['value']:.2f}")
    )
    return _signed_row(
        f"E7 {name}: rehearsal lowers forgetting of the backprop DAM (F = {effect['separation']})",
        CRITERION,
        gain,
        claim,
        effect["converged"],
        note=f"against {effect['without']}{made_of}; theirs: {ref.SEQUENTIAL_DAM_PROTOCOL}; ours: {tasks} ({claim_note}"
        "; their code, hmcalister/Hopfield-Network-PyTorch, holds the DAM but no sequential runs)"
        + ("" if effect["converged"] else "; some fits stopped at the cap, not on the plateau"),
        headline=True,
    )


def section(metrics: dict) -> list[str]:
    """The per-arm summary table: average final recall, BWT, task 1 at the end (95% intervals over seeds), fits."""
    record = metrics[INPUTS[0]]
    lines = [
        "| arm | locality | final recall A | BWT | task 1 at the end | just learned L | fits (converged / all, mean "
        "updates; stalled: flat at their start's loss) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, entry in record["arms"].items():
        cells = [f"{entry[k]['value']:.3f} [{entry[k]['low']:.3f}, {entry[k]['high']:.3f}]" for k in KEYS]
        training = entry.get("training")
        fits = (
            "—"
            if training is None
            else f"{training['fits'] - training['unconverged']} / {training['fits']}, {training['updates_mean']:.0f}"
            + (f", {training['stalled']} stalled" if training.get("stalled") else "")
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


KEYS = ("final", "bwt", "first_task_final", "learned")
