"""E8a: random patterns stored per parameter budget M by each learning rule (local solid, nonlocal/backprop dashed).

Every pattern of a set of P is presented to the rule and the memory is scored on all P. (a) P₀.₉ (90% of the P
patterns recalled exactly from 10% flipped bits) against M, with the trivial memory that keeps K patterns
(f = min(1, K/P): P₀.₉ = K/0.9 at M = K·D) and Gardner's bound for pairwise nets (P = 2D at M = D²). (b) information
restored per parameter max_P P·D·(H₂(ρ) − H₂(ε))⁺/(H₂(ρ)·M) (a memory that returns its cue scores 0), with
Gardner's 2 bits per synapse (a fixed-point bound). (c) the fraction recalled against P/K for the K-unit memories,
with the keep-K curve min(1, K/P). (d) the answer per budget (D, M):
the best local against the best nonlocal information per parameter, 95% intervals, and the verdict.
"""

from __future__ import annotations

import math

from .. import comparison as cmp
from .. import references as ref
from .records import NOT_CONVERGED, Candidate, budget_verdict, number_text
from .style import plt

# the title of this figure's section in reports/README.md
CLAIM = "E8a · Random patterns stored per parameter, local rules against nonlocal ones"
# one line of caveats under it
CAVEAT = (
    "Backprop here is memorisation (the stored set is the test set); laptop D ≤ 128, and a fit that did not reach "
    "its plateau, or whose loss stayed flat at its start (stalled), is marked not converged."
)
INPUTS = ("budget_patterns.json", "budget_patterns_curves.json")
OUTPUT = "budget_patterns.png"
MARKERS = {"hopfield": "o", "random_features": "s", "quadruplets": "^", "simplicial": "v", "dense": "D"}
ANSWER_LEVEL = 0.9  # the recall level of the answer's capacity column
METRICS = ("P", "I/M")  # the answer's two columns: P at ANSWER_LEVEL, information per parameter


def _style(arm: dict) -> str:
    return "-" if arm["locality"] == "local" else "--"


def at_level(criterion: dict, level: float) -> dict | None:
    """The capacity entry of ``criterion`` (an arm's ``exact`` or ``fixed_point``) at ``level``, by its field."""
    return next((c for c in criterion.values() if isinstance(c, dict) and c.get("level") == level), None)


def listed_level(criterion: dict, level: float) -> dict:
    """:func:`at_level` for a level of the record's ``levels``, which every entry holds (KeyError naming it if not)."""
    found = at_level(criterion, level)
    if found is None:
        raise KeyError(f"no capacity entry at the listed level {level:g}")
    return found


def converged(entry: dict) -> bool:
    """Whether the fill of this budget reached its plateau or fixed point (a backprop arm's ``training.converged``,
    K&H 2019's ``unit_norm.converged``; else True)."""
    return entry.get("training", entry.get("unit_norm", {})).get("converged", True)


def _entries(record: dict):
    """(arm name, arm, budget entry) for every measured budget, by arm then (D, M)."""
    for name, arm in record["arms"].items():
        for entry in sorted(arm["budgets"].values(), key=lambda e: (e["D"], e["M"])):
            yield name, arm, entry


# the answer ---------------------------------------------------------------------------------------------------------
def capacity_candidate(name: str, arm: dict, entry: dict, level: float) -> Candidate | None:
    """P at ``level`` as a candidate; a P outside the grid becomes its known interval ([0, first P] below the grid,
    [last P, ∞) above it, ranked at that edge)."""
    capacity = at_level(entry["exact"], level)
    if capacity is None:
        return None
    if capacity["P_c"] is not None:
        value, low, high = capacity["P_c"], capacity["P_c_low"], capacity["P_c_high"]
    elif capacity["P_c_outside"]["side"] == "below_grid":
        value, low, high = 0.0, 0.0, capacity["P_c_outside"]["load"]
    else:
        value, low, high = capacity["P_c_outside"]["load"], capacity["P_c_outside"]["load"], math.inf
    return Candidate(name, arm["locality"], value, low, high, converged(entry))


def candidates(record: dict, level: float = ANSWER_LEVEL) -> dict[tuple[int, int], dict[str, list[Candidate]]]:
    """{(D, M): {"P": [...], "I/M": [...]}}: every arm measured at that budget, as candidates of the answer (an arm
    fitted into a budget it does not fill, pseudo-inverse slots, competes at its ``budget_M``; its bits per parameter
    use its own M)."""
    budgets: dict[tuple[int, int], dict[str, list[Candidate]]] = {}
    for name, arm, entry in _entries(record):
        slot = budgets.setdefault((entry["D"], entry.get("budget_M", entry["M"])), {metric: [] for metric in METRICS})
        if (capacity := capacity_candidate(name, arm, entry, level)) is not None:
            slot["P"].append(capacity)
        info = entry["information"]
        slot["I/M"].append(Candidate(name, arm["locality"], info["value"], info["low"], info["high"], converged(entry)))
    return dict(sorted(budgets.items()))


def answer(metrics: dict, level: float = ANSWER_LEVEL) -> list[dict]:
    """One row per budget (D, M) and metric where both a local and a nonlocal arm were measured: the best of each
    side, and the verdict (:func:`hebbdam.figures.records.budget_verdict`). E8b can append rows of the same shape
    (``budget`` its label, ``metric``, ``local`` / ``nonlocal`` candidates, ``verdict``)."""
    rows = []
    for (dim, budget), columns in candidates(metrics[INPUTS[0]], level).items():
        for metric in METRICS:
            if (compared := budget_verdict(columns[metric])) is None:
                continue
            local, remote, verdict = compared
            label = f"D = {dim}, M = {budget}"
            nonlocal_arms = sorted(c.name for c in columns[metric] if c.locality == "nonlocal")
            rows.append({"budget": label, "D": dim, "M": budget, "metric": metric, "local": local,
                         "nonlocal": remote, "verdict": verdict, "nonlocal_arms": nonlocal_arms})  # fmt: skip
    return rows


def paragraph(metrics: dict, level: float = ANSWER_LEVEL) -> list[str]:
    """The answer, generated: per budget, the best local against the best nonlocal at level ``level`` and in
    information per parameter, with 95% intervals over trials, and the verdict."""
    rows = answer(metrics, level)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["verdict"]] = counts.get(row["verdict"], 0) + 1
    lines = [
        f"**The answer on random patterns (E8a).** At each budget (D, M) the best local rule against the best "
        f"nonlocal one (pseudo-inverse or backprop), on P{level:g} (the number of stored patterns at which "
        f"{level:.0%} of all P are recalled exactly from {metrics[INPUTS[0]]['flip_fraction']:.0%} flipped bits) and "
        "on information per parameter (bits per parameter, max over P of P·D·(H₂(ρ) − H₂(ε))⁺/(H₂(ρ)·M): 0 for a "
        "memory that returns its cue); 95% intervals over trials; a verdict only where the intervals separate and "
        "every backprop fit on the losing side, and the winner's own, reached its "
        f"plateau. Verdicts: {', '.join(f'{n} {v}' for v, n in counts.items()) or 'none'}.",
        "",
        "| budget | metric | best local [95%] | best nonlocal [95%] | verdict | nonlocal arms measured |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        metric = f"P{level:g}" if row["metric"] == "P" else "bits/parameter"
        lines.append(
            f"| {row['budget']} | {metric} | {row['local'].text()} | {row['nonlocal'].text()} "
            f"| {row['verdict']} | {', '.join(row['nonlocal_arms'])} |"
        )
    return lines


def comparisons(metrics: dict) -> list[dict]:
    """The answer's rows in the report's table (no paper states these numbers: no published value)."""
    rows = []
    for row in answer(metrics):
        local, remote = row["local"], row["nonlocal"]
        unit = f"P{ANSWER_LEVEL:g}" if row["metric"] == "P" else "bits per parameter"
        rows.append(
            cmp.row(
                f"E8a {row['budget']}: best local {unit} against best nonlocal",
                f"{ANSWER_LEVEL:.0%} of all P recalled exactly from 10% flips"
                if row["metric"] == "P"
                else "max over P of P·D·(H₂(ρ) − H₂(ε))⁺/(H₂(ρ)·M) from 10% flips",
                local.value,
                interval=None if local.low is None else (local.low, local.high),
                note=f"{local.text()} against {remote.text()}: {row['verdict']}",
                headline=row["metric"] == "I/M",
            )
        )
    return rows


# the figure ---------------------------------------------------------------------------------------------------------
def draw(metrics: dict) -> plt.Figure:
    record = metrics[INPUTS[0]]
    fig, axes = plt.subplots(2, 2, figsize=(13, 9.5), constrained_layout=True)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    names = list(record["arms"])
    for name, arm in record["arms"].items():
        colour = colours[names.index(name) % len(colours)]
        kwargs = dict(fmt=MARKERS[arm["memory"]], ls=_style(arm), color=colour, ms=4, capsize=2)
        for index, dim in enumerate(sorted({e["D"] for e in arm["budgets"].values()})):
            label = f"{name} ({arm['locality']})" if index == 0 else None  # one line per D, one label per arm
            series = sorted((e for e in arm["budgets"].values() if e["D"] == dim), key=lambda e: e["M"])
            found = [(e["M"], at_level(e["exact"], ANSWER_LEVEL)) for e in series]
            capacity = [(m, c) for m, c in found if c is not None and c["P_c"] is not None]
            if capacity:
                ys, low, high = _with_errors([c for _, c in capacity], "P_c", "P_c_low", "P_c_high")
                axes[0, 0].errorbar([m for m, _ in capacity], ys, yerr=[low, high], label=label, **kwargs)
            ys, low, high = _with_errors([e["information"] for e in series], "value", "low", "high")
            axes[0, 1].errorbar([e["M"] for e in series], ys, yerr=[low, high], label=label, **kwargs)
    budgets = [e["M"] for _, _, e in _entries(record)]
    span = [min(budgets), max(budgets)]
    gardner = ref.GARDNER_BITS_PER_SYNAPSE.value
    axes[0, 0].plot(span, [gardner * math.sqrt(m) for m in span], "k:", lw=1, label="Gardner: P = 2D at M = D²")
    for dim in sorted({e["D"] for _, arm, e in _entries(record) if arm["memory"] == "dense"}):
        axes[0, 0].plot(span, [m / (dim * ANSWER_LEVEL) for m in span], color="grey", ls="-.", lw=1,
                        label=f"keep K: P = K/{ANSWER_LEVEL:g} at M = K·{dim}")  # fmt: skip
    axes[0, 0].set(xscale="log", yscale="log", xlabel="parameters M",
                   ylabel=f"P{ANSWER_LEVEL:g} ({ANSWER_LEVEL:.0%} of all P recalled exactly from 10% flips)",
                   title="Patterns stored against the parameter budget")  # fmt: skip
    axes[0, 1].axhline(gardner, color="k", ls=":", lw=1, label=f"Gardner {gardner:g} bits/synapse (fixed points)")
    axes[0, 1].axhline(1.0, color="grey", ls="-.", lw=1, label="keep K: 1 bit per parameter")
    axes[0, 1].set(xscale="log", xlabel="parameters M", ylabel="restored bits per parameter",
                   title="Information per parameter")  # fmt: skip
    _draw_curves(axes[1, 0], metrics, record, colours, names)
    _draw_answer(axes[1, 1], metrics)
    for ax in axes.flat[:3]:
        ax.legend(fontsize=5.5, ncol=2)
    return fig


def _draw_curves(ax, metrics: dict, record: dict, colours: list, names: list) -> None:
    """Fraction recalled against P/K for the K-unit (dense) memories at their smallest D, and min(1, K/P)."""
    dense = {name for name, arm in record["arms"].items() if arm["memory"] == "dense"}
    rows = [row for row in metrics[INPUTS[1]] if row["arm"] in dense]
    if not rows:
        ax.set_axis_off()
        return
    dim = min(row["D"] for row in rows)
    lines: dict[tuple[str, int], list[tuple[float, float]]] = {}
    for row in rows:
        if row["D"] == dim:
            lines.setdefault((row["arm"], row["size"]), []).append((row["patterns"] / row["size"], row["exact"]))
    for (name, units), points in sorted(lines.items()):
        points.sort()
        ax.plot([x for x, _ in points], [y for _, y in points], marker=".", ls=_style(record["arms"][name]),
                color=colours[names.index(name) % len(colours)], lw=1, label=f"{name} K={units}")  # fmt: skip
    ratios = [0.25 + 0.05 * i for i in range(80)]
    ax.plot(ratios, [min(1.0, 1.0 / r) for r in ratios], "k-.", lw=1.5, label="keep K: min(1, K/P)")
    ax.axhline(ANSWER_LEVEL, color="grey", lw=0.5)
    ax.set(xlabel="P/K", ylabel="fraction of all P recalled exactly", ylim=(-0.02, 1.02),
           title=f"K hidden units at D = {dim}: scored on every pattern presented")  # fmt: skip


def _draw_answer(ax, metrics: dict) -> None:
    """Best local (filled) against best nonlocal (open) information per parameter per budget, verdict beside."""
    rows = [row for row in answer(metrics) if row["metric"] == "I/M"]
    for index, row in enumerate(rows):
        for candidate, face, offset in ((row["local"], "C0", -0.12), (row["nonlocal"], "none", 0.12)):
            low = candidate.value - (candidate.low if candidate.low is not None else candidate.value)
            high = (candidate.high if candidate.high is not None else candidate.value) - candidate.value
            ax.errorbar([candidate.value], [index + offset], xerr=[[low], [high]], fmt="o", mfc=face, color="C0",
                        capsize=2, ms=5)  # fmt: skip
        colour = "grey" if row["verdict"] == NOT_CONVERGED else "k"
        ax.annotate(f"{row['verdict']} ({row['local'].name} / {row['nonlocal'].name})", (1.01, index),
                    xycoords=("axes fraction", "data"), fontsize=6, va="center", color=colour)  # fmt: skip
    ax.set_yticks(range(len(rows)), [row["budget"] for row in rows], fontsize=7)
    ax.set(xlabel="bits per parameter (filled: best local, open: best nonlocal; 95% intervals)",
           title="The answer per budget (information per parameter)")  # fmt: skip
    ax.invert_yaxis()


def _with_errors(entries: list[dict], value: str, low: str, high: str) -> tuple[list, list, list]:
    """Values and their lower/upper error-bar lengths (0 where an interval end is missing)."""
    ys = [e[value] for e in entries]
    below = [y - (e[low] if e[low] is not None else y) for y, e in zip(ys, entries, strict=True)]
    above = [(e[high] if e[high] is not None else y) - y for y, e in zip(ys, entries, strict=True)]
    return ys, below, above


# the report ---------------------------------------------------------------------------------------------------------
def section(metrics: dict) -> list[str]:
    """The report's E8a lines: the answer first, then the capacity table, the backprop convergence table, the
    keep-K reference and the K&H 2019 units' norms."""
    record = metrics[INPUTS[0]]
    return [
        *paragraph(metrics),
        "",
        f"Every pattern of a set of P is presented and all P are scored; P at each level interpolates the grid of P "
        f"({record['trials']} trials; 95% intervals resample them); bits/param = P·D/M. The P½ column (half "
        "recalled) is secondary: a memory that keeps K patterns and forgets the rest scores P½ = 2K there (the "
        "keep-K row of each K-unit memory shows it), an artifact of forgetting, not capacity. Gardner's bound "
        f"({ref.GARDNER_BITS_PER_SYNAPSE.value:g} bits per synapse) applies to pairwise nets on the fixed-point "
        "criterion only.",
        "",
        *table(metrics),
        "",
        *training_table(metrics),
    ]


def table(metrics: dict) -> list[str]:
    """Markdown rows per arm and budget: P at each level, P½ (secondary), the most patterns recalled, information
    per parameter, fixed-point bits per parameter; a keep-K row under each K-unit memory."""
    record = metrics[INPUTS[0]]
    levels = record["levels"]
    lines = [
        "| rule | locality | memory | D | M | "
        + " | ".join(f"P{level:g} [95%]" for level in levels)
        + " | P½ (secondary) | most recalled [95%] | bits/param [95%] (at P) | fixed points P"
        + f"{levels[0]:g}·D/M |",
        "|---|---|---|---|---|" + "---|" * (len(levels) + 4),
    ]
    for name, arm, entry in _entries(record):
        cells = [_capacity(listed_level(entry["exact"], level)) for level in levels]
        cells.append(_capacity(entry["exact"]["half"]))
        recalled, info = entry["recalled"], entry["information"]
        cells.append(
            f"{number_text(recalled['value'])} [{number_text(recalled['low'])}, {number_text(recalled['high'])}]"
        )
        cells.append(
            f"{number_text(info['value'])} [{number_text(info['low'])}, {number_text(info['high'])}] ({info['at']})"
        )
        cells.append(number_text(listed_level(entry["fixed_point"], levels[0])["bits_per_parameter"]))
        verdict = "" if converged(entry) else " (not converged)"
        fitted = f" (in {entry['budget_M']})" if "budget_M" in entry else ""  # pseudo-inverse slots: M ≤ the budget
        head = f"| {name}{verdict} | {arm['locality']} | {arm['memory']} | {entry['D']} | {entry['M']}{fitted} | "
        lines.append(head + " | ".join(cells) + " |")
        if "keep_K" in entry:
            keep = entry["keep_K"]
            trivial = [number_text(keep[key]) for key in keep if key.startswith("L")] + [number_text(keep["half"])]
            trivial += [number_text(keep["recalled"]), number_text(keep["information"]), "—"]
            lines.append(f"| keep K = {entry['size']} (trivial) | — | — | {entry['D']} | {entry['M']} | "
                         + " | ".join(trivial) + " |")  # fmt: skip
    return lines


def training_table(metrics: dict) -> list[str]:
    """Backprop convergence per budget (updates, plateau reached, lr and init chosen by the sweep, the lrs tried and
    whether the chosen lr still sits on an edge of them, fits that kept their start) and the K&H 2019 units' mean
    p-norm (1 at the rule's fixed point)."""
    lines = [
        "Backprop is memorisation here (the stored set is the test set), trained until the training loss stops "
        "falling or a cap; each fit is kept only where it beats its own start on the recall criterion (else the "
        "start is kept); the lr × init sweep runs once per budget and is extended past an edge that wins.",
        "",
        "| arm | D | M | lr chosen (tried) | init chosen | kept | fits kept start | updates (median / max) | cap "
        "| converged |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    norms = []
    for name, arm, entry in _entries(metrics[INPUTS[0]]):
        if "training" in entry:
            lines.append(_training_row(name, arm, entry))
        if "unit_norm" in entry:
            norms.append(_norm_text(name, entry))
    if norms:
        lines += ["", "K&H 2019 units' p-norms against the rule's fixed point 1, over the units that win a stored "
                  "pattern (mean norm of all K; largest per-fit mean |‖W_μ‖_p − 1| over the winners; largest "
                  "winner's; most units a fit left never winning, which keep their random start): "
                  + "; ".join(norms) + "."]  # fmt: skip
    return lines


def _norm_text(name: str, entry: dict) -> str:
    """One K&H 2019 budget: its mean p-norm and gaps, "not converged" when a fit's mean gap exceeds the tolerance."""
    norm = entry["unit_norm"]
    state = "" if norm["converged"] else f", not converged ({norm['fits_not_converged']} of {norm['fits']} fits)"
    return (
        f"{name} D = {entry['D']}, M = {entry['M']}: {norm['mean']:.3g}; {norm['gap_mean']:.3g} "
        f"(tolerance {norm['tolerance']:g}); {norm['gap_max']:.3g}; {norm.get('never_won', 0)} never won{state}"
    )


def _training_row(name: str, arm: dict, entry: dict) -> str:
    """One row of :func:`training_table`: a chosen lr on the edge of those tried reads "(at edge)"."""
    t = entry["training"]
    tried = ", ".join(f"{lr:g}" for lr in t["lrs_tried"])
    edge = " at edge" if t["lr_at_edge"] else ""
    converged = "yes" if t["converged"] else f"not converged ({_unconverged(t)})"
    return (
        f"| {name} | {entry['D']} | {entry['M']} | {t['lr']:g}{edge} ({tried}; sweep at P = {t['sweep_patterns']}) | "
        f"{t['init']} | {t['kept']} | "
        f"{t['fits_kept_start']} / {t['fits']} (+ {t.get('fits_solved_start', 0)} solved at start) | "
        f"{t['updates_median']:g} / {t['updates_max']} | {arm['updates_cap']} "
        f"| {converged} |"
    )


def _unconverged(training: dict) -> str:
    """Why a backprop budget reads not converged: its grid fits at the cap, those stalled (flat at their start's
    loss, ``lit.backprop.Plateau``) and whether the sweep's chosen fit stalled."""
    stalled = training.get("fits_stalled", 0)
    parts = [f"{training['fits_not_converged'] - stalled} of {training['fits']} fits at the cap"]
    parts += [f"{stalled} stalled"] if stalled else []
    parts += ["the sweep's choice stalled"] if training.get("stalled") else []
    return ", ".join(parts)


def _capacity(capacity: dict) -> str:
    if capacity["P_c"] is None:
        outside = capacity["P_c_outside"]
        return ("< " if outside["side"] == "below_grid" else "> ") + number_text(outside["load"])
    return f"{number_text(capacity['P_c'])} [{number_text(capacity['P_c_low'])}, {number_text(capacity['P_c_high'])}]"
