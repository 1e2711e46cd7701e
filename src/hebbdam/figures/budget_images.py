"""E8b: real images stored in a memory of K hidden units, per learning rule, scored on the stored set (local solid,
nonlocal/backprop dashed).

Left: P_0.9 (the number of stored images at which 90% of them are still recovered from half-masked queries: within
Millidge's threshold and nearer their own image than any other stored one) against K, one line per rule and masking
convention (first condition), with the keep-K memory's K/0.9; a P_0.9 beyond the grid is drawn at the grid's edge as
an open triangle pointing the way it lies. Right: the fraction of the stored set recovered against P at the largest K
of each rule (first condition and masking), the keep-K curve min(1, K/P), and held-out completion (threshold only)
dotted.
"""

from __future__ import annotations

from .records import Candidate, budget_verdict, number_text
from .style import plt

# the title of this figure's section in reports/README.md
CLAIM = "E8b · Real images stored per hidden unit, local rules against nonlocal ones"
# one line of caveats under it
CAVEAT = (
    "The masking convention (hidden pixels at the background value or at 0) can decide a verdict, so both are "
    "shown; an arm that recovers more than K stored images may also complete held-out ones (the held-out column), "
    "so its count can measure a completion map that generalises, not storage alone, and held-out completion counts "
    "only above the blank-cue floor (the half image returned as it is; its value opens the appendix's E8b section). "
    "A pairwise arm (Willshaw on the binarised images, D² synapses; recurrent BCPNN on their on/off code, (2D)² + "
    "2D) has no hidden units: its own named row, never compared at equal K; Willshaw reads the cue's active pixels, "
    "so both masking conventions give it the same cue, while the recurrent BCPNN reads a hidden pixel at 0 as no "
    "input and at the background value as off. The BCPNN hidden units are read through the DAM's recall (each the "
    "image it stands for, 2 p(x=1|j) − 1)."
)
INPUTS = ("budget_images.json", "budget_images_curves.json")
OUTPUT = "budget_images.png"
PRIMARY = "P_0.9"
LEVEL = 0.9
MARKERS = ("o", "s", "^", "D")
PAIRWISE_TAG = ", pairwise, x: P grid"  # a pairwise arm's legend: its K only anchors the P grid


def _style(arm: dict) -> str:
    return "-" if arm["locality"] == "local" else "--"


def _entries(per_k: dict) -> list[dict]:
    return sorted((e for key, e in per_k.items() if key.startswith("K")), key=lambda e: e["K"])


def units_of(record: dict) -> list[int]:
    return sorted(
        {
            e["K"]
            for arm in record["arms"].values()
            for c in arm["conditions"].values()
            for m in c.values()
            for e in _entries(m)
        }
    )


def draw(metrics: dict) -> plt.Figure:
    record, curves = metrics[INPUTS[0]], metrics[INPUTS[1]]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6), constrained_layout=True)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    first = next(iter(record["conditions"]))
    maskings = list(record["masking"])
    ax = axes[0]
    for index, (name, arm) in enumerate(record["arms"].items()):
        colour = colours[index % len(colours)]
        for m_index, masking in enumerate(maskings):
            entries = _entries(arm["conditions"].get(first, {}).get(masking, {}))
            measured = [e for e in entries if e[PRIMARY] is not None]
            if measured:
                ys = [e[PRIMARY] for e in measured]
                low = [y - (e[f"{PRIMARY}_low"] or y) for y, e in zip(ys, measured, strict=True)]
                high = [(e[f"{PRIMARY}_high"] or y) - y for y, e in zip(ys, measured, strict=True)]
                ax.errorbar(
                    [e["K"] for e in measured],
                    ys,
                    yerr=[low, high],
                    color=colour,
                    ls=_style(arm),
                    marker=MARKERS[m_index % len(MARKERS)],
                    ms=4,
                    capsize=2,
                    alpha=1.0 if m_index == 0 else 0.5,
                    label=f"{name} ({arm['locality']}, {masking}{PAIRWISE_TAG if _pairwise(arm) else ''})",
                )
            for e in entries:
                outside = e.get(f"{PRIMARY}_outside")
                if outside:
                    marker = "^" if outside["side"] == "above_grid" else "v"
                    ax.plot([e["K"]], [outside["load"]], marker=marker, mfc="none", color=colour, ms=7)
    ks = units_of(record)
    ax.plot(ks, [k / LEVEL for k in ks], "k:", lw=1, label="keep K of P: P_0.9 = K/0.9")
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="hidden units K",
        ylabel="P_0.9 (90% of the stored set recovered)",
        title=f"Stored images per K ({record['dataset']}, D = {record['dim']}, {first}; △▽ beyond the grid)",
    )
    ax.legend(fontsize=5, ncol=2)
    ax = axes[1]
    masking = maskings[0]
    for index, (name, arm) in enumerate(record["arms"].items()):
        colour = colours[index % len(colours)]
        entries = _entries(arm["conditions"].get(first, {}).get(masking, {}))
        if not entries:
            continue
        curve = entries[-1]["curve"]
        ps = [row["P"] for row in curve]
        ax.plot(
            ps,
            [row["stored"] for row in curve],
            color=colour,
            ls=_style(arm),
            marker="o",
            ms=3,
            label=f"{name} K={entries[-1]['K']}",
        )
        ax.plot(ps, [row["held_out"] for row in curve], color=colour, ls=":", lw=1)
    largest = ks[-1]
    grid = sorted({row["P"] for row in curves if row["K"] == largest})
    ax.plot(grid, [min(1.0, largest / p) for p in grid], "k-", lw=0.8, label=f"keep K = {largest}: min(1, K/P)")
    ax.set(
        xscale="log",
        xlabel="stored images P",
        ylabel="fraction recovered (stored; held-out dotted)",
        title=f"Stored set against P ({first}, masking {masking})",
    )
    ax.legend(fontsize=5, ncol=2)
    return fig


# the verdict per K ------------------------------------------------------------------------------------------------
def _bounds(entry: dict) -> tuple[float, float, float]:
    """(value, low, high) of P_0.9; outside the grid: the edge, with the open side unbounded (0 or infinity)."""
    if entry[PRIMARY] is not None:
        value = entry[PRIMARY]
        low, high = entry[f"{PRIMARY}_low"], entry[f"{PRIMARY}_high"]
        return value, value if low is None else low, value if high is None else high
    outside = entry[f"{PRIMARY}_outside"]
    if outside["side"] == "below_grid":
        return outside["load"], 0.0, outside["load"]
    return outside["load"], outside["load"], float("inf")


def candidates(record: dict, condition: str, masking: str, units: int) -> list[Candidate]:
    """Every arm measured at (condition, masking, K) as a :class:`~hebbdam.figures.records.Candidate` on stored-set
    P_0.9 (an estimate beyond the grid: the edge, its open side unbounded); a backprop arm carries whether every
    one of its fits reached the plateau. Ordered by the fraction recovered at the grid's edge, highest first, so that
    among arms tied at an edge (every local arm below the grid) the best is the one that recovers the most there,
    not the first name (the verdicts take the first of equal values)."""
    out = []
    for name, arm in record["arms"].items():
        if _pairwise(arm):  # no hidden units: not at this K's budget (its own row, pairwise_lines)
            continue
        if (entry := _entry(arm, condition, masking, units)) is not None:
            converged = entry["training"]["converged"] if "training" in entry else True
            edge = (entry.get(f"{PRIMARY}_outside") or {}).get("fraction", 0.0)
            out.append((-edge, Candidate(name, arm["locality"], *_bounds(entry), converged=converged)))
    return [candidate for _, candidate in sorted(out, key=lambda pair: pair[0])]


def _pairwise(arm: dict) -> bool:
    """A pairwise memory with no hidden units, whose K only anchors its P grid (a record from before the field:
    none)."""
    return arm.get("budget") == "pairwise"


def pairwise_lines(record: dict) -> list[str]:
    """One named row per pairwise arm, condition and masking: its P_0.9 [95%] at its largest value over the P grids
    it was measured on, with its own parameter count (Willshaw D², BCPNN (2D)² + 2D), not at any K's equal budget."""
    lines = []
    for name, arm in record["arms"].items():
        if not _pairwise(arm):
            continue
        for condition, by_masking in arm["conditions"].items():
            for masking, per_k in by_masking.items():
                entries = _entries(per_k)
                measured = [e for e in entries if e[PRIMARY] is not None]
                best = max(measured, key=lambda e: e[PRIMARY]) if measured else entries[0]
                lines.append(
                    f"- {name} ({arm['rule']}, {arm['locality']}, pairwise: {best['parameters']:,} parameters, not at "
                    f"equal budget), {condition}, {masking}: P_0.9 {_estimate(best, PRIMARY)} (P grid around "
                    f"{best['K']})."
                )
    return lines


def verdicts(record: dict) -> list[dict]:
    """Per condition, masking convention and K where a local and a nonlocal arm are both measured: the best local and
    the best nonlocal arm by stored-set P_0.9 with its 95% interval over training seeds, and the verdict of
    :func:`hebbdam.figures.records.budget_verdict` (the one E8a's answer uses): "local ahead" / "nonlocal ahead" when
    the intervals separate, "not converged" when a backprop arm at that K did not reach its plateau and the verdict
    is not already "nonlocal ahead", else "not resolved". Rows {condition, masking, K, local: {arm, value, low,
    high}, nonlocal: {…}, backprop_converged (None without backprop), verdict}."""
    rows = []
    for condition in record["conditions"]:
        for masking in record["masking"]:
            for k in units_of(record):
                found = candidates(record, condition, masking, k)
                if (compared := budget_verdict(found)) is None:
                    continue
                local, remote, verdict = compared
                entries = [_entry(arm, condition, masking, k) for arm in record["arms"].values()]
                trained = [e["training"]["converged"] for e in entries if e is not None and "training" in e]
                rows.append(
                    {
                        "condition": condition,
                        "masking": masking,
                        "K": k,
                        "local": _side(local),
                        "nonlocal": _side(remote),
                        "backprop_converged": all(trained) if trained else None,
                        "verdict": verdict,
                    }
                )
    return rows


def _entry(arm: dict, condition: str, masking: str, units: int) -> dict | None:
    return arm["conditions"].get(condition, {}).get(masking, {}).get(f"K{units}")


def _side(candidate: Candidate) -> dict:
    return {"arm": candidate.name, "value": candidate.value, "low": candidate.low, "high": candidate.high}


# the report -------------------------------------------------------------------------------------------------------
def section(metrics: dict) -> list[str]:
    """The report's E8b lines: per condition and masking, P_0.9 / max recalled / P½ per rule and K, the held-out
    column, the verdict per K, and backprop's convergence."""
    record = metrics[INPUTS[0]]
    floors, blank = (
        ", ".join(
            f"{name} {v['held_out']:.2f} held out / {v['train']:.2f} training"
            for name, v in sorted(record.get(key, {}).items())
        )
        for key in ("mean_image_floor", "blank_cue_floor")
    )
    lines = [
        f"Stored-set capacity: for each of {record['seeds']} training seeds a stored set of P of {record['dataset']}'s "
        "training images (a seeded permutation, every image presented to the rule); an image is recovered from its "
        f"half-hidden query when Σ(x - out)² ≤ {record['threshold']:g} (Millidge et al.) and no other stored image is "
        "nearer the output, so a memory that keeps K of P scores min(1, K/P) (P_0.9 = K/0.9). P_0.9 and max recalled "
        "= max_P P·f(P), 95% intervals over the training seeds; P½ (secondary) credits a forgetting memory with 2K. "
        "Held-out completion (test images, threshold only) at P = K is a separate column. Hidden pixels: "
        + ", ".join(f"{name} (c = {value:g})" for name, value in record["masking"].items())
        + f". The mean training image alone is within the threshold of: {floors}"
        + (f"; the query returned with its hidden half blank (no parameters): {blank}." if blank else "."),
        "",
        *table(record),
        "",
        *[
            f"- {row['condition']}, {row['masking']}, K = {row['K']}: best local {row['local']['arm']} P_0.9 "
            f"{_interval(row['local'])} against best nonlocal {row['nonlocal']['arm']} {_interval(row['nonlocal'])}: "
            f"{row['verdict']}{_training_note(row)}."
            for row in verdicts(record)
        ],
        *pairwise_lines(record),
        "",
        *convergence_table(record),
    ]
    return lines


def table(record: dict) -> list[str]:
    """Markdown rows per rule, condition and masking: P_0.9 [95%] / max recalled / P½ and held-out at P = K, per K."""
    ks = units_of(record)
    lines = [
        "| rule | locality | condition | masking | "
        + " | ".join(f"K = {k}: P_0.9 [95%]; max recalled; P½; held-out" for k in ks)
        + " |",
        "|---|---|---|---|" + "---|" * len(ks),
    ]
    for name, arm in record["arms"].items():
        label = f"{name} (pairwise, K: P grid only)" if _pairwise(arm) else name
        for condition, by_masking in arm["conditions"].items():
            for masking, per_k in by_masking.items():
                by_k = {e["K"]: e for e in _entries(per_k)}
                cells = [_cell(by_k[k]) if k in by_k else "not run" for k in ks]
                lines.append(f"| {label} | {arm['locality']} | {condition} | {masking} | " + " | ".join(cells) + " |")
    return lines


def convergence_table(record: dict) -> list[str]:
    """Backprop per condition, masking and K: the lr and init chosen, the lrs the sweep tried (an lr still at an edge
    of them flagged), the most updates a fit used, whether every fit reached its plateau, and how many fits kept the
    trained units rather than their start (the stored set is the training set: memorisation)."""
    lines = []
    for name, arm in record["arms"].items():
        if arm["rule"] != "backprop":
            continue
        lines += [
            f"{name}: Adam on the completion loss of the stored set (memorisation: the stored set is the training set "
            f"and the test set), stopped at the plateau of that loss or at {arm['options']['cap']} updates; the lrs "
            f"swept from the {_inits(arm)} at the first seed and the smallest P above K, the sweep extended past an "
            "edge it chose (at most twice); the lr multiplied by "
            f"{arm['options'].get('anneal', 1.0):g} after every check of the plateau; the trained units kept only "
            "where they recover more of the stored set than their start; a diverged fit is a failed candidate.",
            "",
            "| condition | masking | K | lr | lrs tried | init | updates (median / max over P, seeds) | fits at the "
            "cap | converged | kept trained / start |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for condition, by_masking in arm["conditions"].items():
            for masking, per_k in by_masking.items():
                for e in _entries(per_k):
                    training = e["training"]
                    stalled = training.get("stalled", 0)  # fits flat at their start's loss (Plateau.stalled)
                    state = "yes" if training["converged"] else "not converged"
                    state += f", {stalled} stalled" if stalled else ""
                    edge = " (lr at the edge)" if training["lr_at_edge"] else ""
                    tried = ", ".join(f"{lr:g}" for lr in training["lrs_tried"])
                    lines.append(
                        f"| {condition} | {masking} | {e['K']} | {training['lr']:g}{edge} | {tried} | "
                        f"{training['init']} | {training['updates_median']} / {training['updates_max']} | "
                        f"{training['at_cap']} of {training['count']} | {state} | "
                        f"{training['kept']['trained']} / {training['kept']['start']} |"
                    )
    return lines


def _inits(arm: dict) -> str:
    """Which start the lrs are swept from and which are tried once, at the lr chosen there."""
    first, *others = arm["options"].get("inits", ["slots"])
    return f"{first}" + (f" (then {', '.join(others)} at the lr chosen there)" if others else "")


def _training_note(row: dict) -> str:
    """After a verdict: "(backprop not converged)" when a backprop fit at that K stopped at its cap or stalled (the
    verdict stands only where the unconverged arm already wins, :func:`~hebbdam.figures.records.budget_verdict`)."""
    flagged = row["backprop_converged"] is False and row["verdict"] != "not converged"
    return " (backprop not converged)" if flagged else ""


def _interval(side: dict) -> str:
    return f"{side['value']:.3g} [{number_text(side['low'])}, {number_text(side['high'])}]"


def _estimate(entry: dict, key: str) -> str:
    if entry[key] is not None:
        return f"{entry[key]:.3g} [{number_text(entry[f'{key}_low'])}, {number_text(entry[f'{key}_high'])}]"
    outside = entry[f"{key}_outside"]
    return f"{'<' if outside['side'] == 'below_grid' else '>'} {outside['load']:g}"


def _cell(entry: dict) -> str:
    at_k = next((row for row in entry["curve"] if row["P"] >= entry["K"]), entry["curve"][-1])
    return (
        f"{_estimate(entry, PRIMARY)}; {entry['max_recalled']:.3g}; {_estimate(entry, 'P_half')}; "
        f"{at_k['held_out']:.2f}"
    )
