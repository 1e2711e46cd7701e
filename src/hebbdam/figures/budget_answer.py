"""E8, the answer: per budget, the best local learning rule against the best nonlocal one (pseudo-inverse or backprop),
each point the best arm of its side with its 95% interval, the verdict written above it (local ahead / nonlocal ahead
/ not resolved / not converged).

(a) E8a, random patterns, per parameter budget (D, M): P₀.₉ (the number of stored patterns at which 90% of all P are
recalled exactly from flipped bits). (b) the same budgets in restored information per parameter. (c) E8b, real images,
per hidden units K and masking convention: stored-set P₀.₉ (90% of the P stored images recovered from half-hidden
queries), the best arm of each side over the image conditions. An open side of an interval (an estimate beyond the
grid) is drawn to the panel's edge. Read from budget_patterns.json and budget_images.json only.
"""

from __future__ import annotations

import math

from . import budget_images as images
from . import budget_patterns as patterns
from .records import LOCAL_AHEAD, NONLOCAL_AHEAD, NOT_CONVERGED, NOT_RESOLVED, Candidate, budget_verdict
from .style import plt

# the title of this figure's section in reports/README.md
CLAIM = "The answer (E8): local learning against a nonlocal one at the same budget"
# one line of caveats under it
CAVEAT = (
    "A slot memory keeps the first K patterns verbatim, so where it is the best local arm the verdict is keep-K "
    "against the nonlocal side, not a Hebbian rule; on images, backprop's count beyond K comes with completion of "
    "held-out images (E8b's held-out column), a map that generalises rather than storage alone."
)
INPUTS = (patterns.INPUTS[0], images.INPUTS[0])
OUTPUT = "budget_answer.png"
VERDICTS = (LOCAL_AHEAD, NONLOCAL_AHEAD, NOT_RESOLVED, NOT_CONVERGED)
PANELS = (("E8a", "P"), ("E8a", "I/M"), ("E8b", "P"))  # (experiment, metric) per panel


def patterns_rows(record: dict) -> list[dict]:
    """E8a per budget (D, M) and metric ("P": P₀.₉, "I/M": bits per parameter): {experiment, budget, metric, local,
    nonlocal (Candidates), verdict} (:func:`hebbdam.figures.budget_patterns.answer`)."""
    rows = patterns.answer({patterns.INPUTS[0]: record}, patterns.ANSWER_LEVEL)
    return [{"experiment": "E8a", **{key: row[key] for key in ("budget", "metric", "local", "nonlocal", "verdict")}}
            for row in rows]  # fmt: skip


def images_rows(record: dict) -> list[dict]:
    """E8b per hidden units K and masking convention: the best local against the best nonlocal arm by stored-set
    P₀.₉ over every image condition (each candidate named arm/condition), and the verdict of
    :func:`hebbdam.figures.records.budget_verdict`; rows as :func:`patterns_rows`, metric "P"."""
    rows = []
    for masking in record["masking"]:
        for units in images.units_of(record):
            found = [
                Candidate(f"{c.name}/{condition}", c.locality, c.value, c.low, c.high, c.converged)
                for condition in record["conditions"]
                for c in images.candidates(record, condition, masking, units)
            ]
            if (compared := budget_verdict(found)) is None:
                continue
            local, remote, verdict = compared
            budget = f"K = {units}, hidden = {masking}"
            rows.append({"experiment": "E8b", "budget": budget, "metric": "P", "local": local, "nonlocal": remote,
                         "verdict": verdict})  # fmt: skip
    return rows


def rows_of(metrics: dict) -> list[dict]:
    """The answer's rows: E8a's budgets then E8b's."""
    return patterns_rows(metrics[INPUTS[0]]) + images_rows(metrics[INPUTS[1]])


def _counts(rows: list[dict]) -> str:
    counts = {verdict: sum(row["verdict"] == verdict for row in rows) for verdict in VERDICTS}
    return ", ".join(f"{verdict} {n}" for verdict, n in counts.items() if n) or "no budget compared"


def _budgets(rows: list[dict], verdict: str) -> str:
    return "; ".join(row["budget"] + ("" if row["metric"] == "P" else " (bits/parameter)") for row in rows
                     if row["verdict"] == verdict) or "none"  # fmt: skip


def paragraph(metrics: dict) -> list[str]:
    """The answer, generated from the records: one paragraph with the verdict counts and where each side is ahead,
    then the table of every budget."""
    rows = rows_of(metrics)
    e8a = [row for row in rows if row["experiment"] == "E8a"]
    e8b = [row for row in rows if row["experiment"] == "E8b"]
    level = patterns.ANSWER_LEVEL
    lines = [
        "**The answer (E8): can a memory that learns only by local rules match a nonlocal one at the same budget?** "
        f"Per budget, the best local rule against the best nonlocal one (pseudo-inverse or backprop) on P{level:g} "
        f"({level:.0%} of all P stored items recalled) and, on random patterns, in restored bits per parameter; 95% "
        "intervals over trials (E8a) and training seeds (E8b); a verdict only where the intervals separate and every "
        "backprop fit on the losing side, and the winner's own, reached its plateau (backprop on images is "
        "memorisation: the stored set is "
        "its training set and its test set, and its trained units are kept only where they beat their start). "
        f"Random patterns (E8a, per parameter budget M): {_counts(e8a)}; local ahead at: {_budgets(e8a, LOCAL_AHEAD)}; "
        f"nonlocal ahead at: {_budgets(e8a, NONLOCAL_AHEAD)}. Real images (E8b, per hidden units K and masking "
        f"convention, the best arm over the image conditions): {_counts(e8b)}; local ahead at: "
        f"{_budgets(e8b, LOCAL_AHEAD)}; nonlocal ahead at: {_budgets(e8b, NONLOCAL_AHEAD)}.",
        "",
        "| experiment | budget | metric | best local [95%] | best nonlocal [95%] | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        metric = f"P{level:g}" if row["metric"] == "P" else "bits/parameter"
        lines.append(
            f"| {row['experiment']} | {row['budget']} | {metric} | {row['local'].text()} | {row['nonlocal'].text()} "
            f"| {row['verdict']} |"
        )
    return lines


def section(metrics: dict) -> list[str]:
    """The report's lines under the figure: the generated paragraph and its table."""
    return paragraph(metrics)


def lead(metrics: dict) -> list[str]:
    """The report's headline opens with the same answer."""
    return paragraph(metrics)


# the figure ---------------------------------------------------------------------------------------------------------
def draw(metrics: dict) -> plt.Figure:
    rows = rows_of(metrics)
    fig, axes = plt.subplots(1, len(PANELS), figsize=(16, 5), constrained_layout=True)
    titles = {
        ("E8a", "P"): f"E8a random patterns: P{patterns.ANSWER_LEVEL:g} per budget",
        ("E8a", "I/M"): "E8a random patterns: restored bits per parameter",
        ("E8b", "P"): f"E8b images: stored-set P{patterns.ANSWER_LEVEL:g} per K and masking",
    }
    for ax, panel in zip(axes, PANELS, strict=True):
        mine = [row for row in rows if (row["experiment"], row["metric"]) == panel]
        _draw_panel(ax, mine)
        ax.set_title(titles[panel], fontsize=9)
    return fig


def _draw_panel(ax, rows: list[dict]) -> None:
    """Best local (solid circle) and best nonlocal (open square) per budget with their intervals, the verdict above."""
    if not rows:
        ax.set_axis_off()
        return
    finite = [v for row in rows for side in ("local", "nonlocal") for v in _bounds(row[side]) if v != math.inf]
    top = max(finite) * 1.25 if finite else 1.0
    for index, row in enumerate(rows):
        for offset, side, style in ((-0.12, "local", dict(fmt="o", color="C0")), (0.12, "nonlocal",
                                    dict(fmt="s", color="C3", mfc="none"))):  # fmt: skip
            value, low, high = _bounds(row[side])
            high = min(high, top)
            label = side if index == 0 else None
            ax.errorbar([index + offset], [value], yerr=[[value - low], [high - value]], capsize=3, label=label,
                        **style)  # fmt: skip
        ax.annotate(row["verdict"], (index, top), ha="center", va="top", fontsize=7, rotation=20)
    ax.set_xticks(range(len(rows)), [row["budget"] for row in rows], rotation=30, ha="right", fontsize=7)
    ax.set_xlim(-0.6, len(rows) - 0.4)
    ax.set_ylim(0, top * 1.08)
    ax.legend(fontsize=7, loc="lower right")


def _bounds(candidate: Candidate) -> tuple[float, float, float]:
    """(value, low, high) with an unknown bound read as the value itself."""
    value = candidate.value
    low = value if candidate.low is None else candidate.low
    high = value if candidate.high is None else candidate.high
    return value, low, high
