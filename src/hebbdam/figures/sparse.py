"""Sparse codes: information per synapse against the coding level f for every rule (local solid, nonlocal dashed;
one-step read-out circles, attractor recall squares),
with the published asymptotes drawn (Willshaw ln 2 ≈ 0.69, Gardner's bound for sparse patterns 1/(2 ln 2) ≈ 0.72,
both f → 0 and D → ∞) and dense Hebb ≈ 0.14 marked at f = ½; (b) P₀.₉ in bits per synapse (P₀.₉·S/M) against f;
(c) the holographic memory: K₀.₉ against D with the fitted power law (Plate 1995: linear).
"""

from __future__ import annotations

from .. import comparison as cmp
from .records import entries_by
from .style import plt

# the title of this figure's section in reports/README.md
CLAIM = (
    "Sparse codes: information per synapse of Willshaw, covariance, BCPNN, delta, pseudo-inverse and "
    "converged-backprop memories"
)
# one line of caveats under it
CAVEAT = (
    "Finite D and one recall step (circles) or attractor recall (squares) from half a cue, against asymptotes for "
    "f → 0 and D → ∞: the bounds are drawn, not claimed. A backprop point whose fits did not all reach their "
    "plateau is crossed (×): no result about backprop."
)
INPUTS = ("sparse.json", "sparse_curves.json")
OUTPUT = "sparse.png"
SOURCES = {
    "willshaw": "Willshaw, Buneman & Longuet-Higgins 1969; Palm 1980",
    "gardner_sparse": "Gardner 1988; Tsodyks & Feigel'man 1988",
    "hebb_dense": "Amit, Gutfreund & Sompolinsky 1985",
}
ASYMPTOTE_OF = {"willshaw": "willshaw", "threshold": "gardner_sparse"}  # memory kind → its published asymptote
CRITERION = "max over P of P·S·(L_cue − L_out)⁺/(L_cue·M), {recall} from cues with half the active units removed"
ATTRACTOR = "_attractor"  # the suffix of an arm that relaxes the same rule's memory (drawn in that rule's colour)
PUBLISHED_CRITERION = "asymptote f → 0, D → ∞ (retrieval with vanishing error)"


def recall_text(arm: dict) -> str:
    """How an arm reads its cues: "one step", or "attractor recall (≤ N synchronous steps)"."""
    sweeps = arm.get("sweeps", 1)
    return "one step" if sweeps == 1 else f"attractor recall (≤ {sweeps} synchronous steps)"


def criterion(arm: dict) -> str:
    return CRITERION.format(recall=recall_text(arm))


def _codings(arm: dict) -> dict[float, dict]:
    return entries_by(arm["codings"], "coding")


def _error_bars(ax, xs, entries, value, low, high, **kwargs) -> None:
    ys = [e[value] for e in entries]
    lows = [0.0 if e[low] is None or e[value] is None else e[value] - e[low] for e in entries]
    highs = [0.0 if e[high] is None or e[value] is None else e[high] - e[value] for e in entries]
    ax.errorbar(xs, [float("nan") if y is None else y for y in ys], yerr=[lows, highs], capsize=2, ms=4, **kwargs)


def draw(metrics: dict) -> plt.Figure:
    record = metrics[INPUTS[0]]
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8), constrained_layout=True)
    rules = list(dict.fromkeys(name.removesuffix(ATTRACTOR) for name in record["arms"]))  # one colour per rule
    for name, arm in record["arms"].items():
        codings = _codings(arm)
        xs = list(codings)
        marker = "o" if arm.get("sweeps", 1) == 1 else "s"
        colour = f"C{rules.index(name.removesuffix(ATTRACTOR)) % 10}"
        style = dict(fmt=marker, ls="-" if arm["locality"] == "local" else "--", label=f"{name} ({arm['locality']})")
        style["color"] = colour
        _error_bars(axes[0], xs, [c["information"] for c in codings.values()], "value", "low", "high", **style)
        _error_bars(axes[1], xs, [c["exact"] for c in codings.values()], "bits", "bits_low", "bits_high", **style)
        _cross_unconverged(axes[0], codings, colour)
    bounds = record["bounds"]
    axes[0].axhline(bounds["willshaw"], color="k", ls=":", label=f"Willshaw ln 2 ≈ {bounds['willshaw']:.2f}")
    axes[0].axhline(bounds["gardner_sparse"], color="grey", ls="-.", label="Gardner sparse 1/(2 ln 2) ≈ 0.72")
    axes[0].plot([0.5], [bounds["hebb_dense"]], "k*", ms=12, label=f"Hebb dense ≈ {bounds['hebb_dense']:.2f}")
    for ax, label in zip(axes[:2], ("information per synapse (bits)", "P₀.₉·S/M (bits per synapse)"), strict=True):
        ax.set_xscale("log")
        ax.set_xlabel("coding level f")
        ax.set_ylabel(label)
    removed = f"{record['removed']:.0%}"
    axes[0].set_title(f"(a) information per synapse, D = {record['dim']}, cues: {removed} of active units removed")
    axes[0].legend(fontsize=6, ncol=2, loc="lower left", bbox_to_anchor=(0.01, 0.5))
    axes[1].set_title("(b) P₀.₉ (90% of all P recalled exactly), in bits")
    holographic = record["holographic"]
    dims = entries_by(holographic["dims"], "D")
    _error_bars(axes[2], list(dims), list(dims.values()), "K_c", "K_c_low", "K_c_high", fmt="o", label="measured")
    measured = [(d, e["K_c"]) for d, e in dims.items() if e["K_c"] is not None]
    if holographic["slope"] is not None and measured:
        d0, k0 = measured[0]
        axes[2].plot(list(dims), [k0 * (d / d0) ** holographic["slope"] for d in dims], "k--", label="fit")
    axes[2].set_xscale("log")
    axes[2].set_yscale("log")
    axes[2].set_xlabel("D")
    axes[2].set_ylabel("K₀.₉ pairs")
    axes[2].set_title(f"(c) holographic: slope {holographic['slope']} ({holographic['items']} items)")
    axes[2].legend(fontsize=7)
    return fig


def _cross_unconverged(ax, codings: dict[float, dict], colour: str) -> None:
    """An × over each coding level where a backprop arm's fits did not all reach their plateau (``training``)."""
    flagged = [
        (f, c["information"]["value"]) for f, c in codings.items() if not c.get("training", {}).get("converged", True)
    ]
    if flagged:
        ax.plot(*zip(*flagged, strict=True), "x", color=colour, ms=10, mew=2)


def best_coding(arm: dict) -> dict:
    """The coding entry where the arm's information per synapse is largest (its measured asymptote here)."""
    return max(_codings(arm).values(), key=lambda c: c["information"]["value"])


def comparisons(metrics: dict) -> list[dict]:
    """Each sparse rule's best information per synapse against its published asymptote (not comparable at finite D),
    the rise from f = ½ to sparse codes (direction), BCPNN against the covariance rule at f = 0.1 (Lansner et al.
    2026: Bayesian-Hebbian above additive Hebb), and the holographic law's slope against Plate's 1."""
    record = metrics[INPUTS[0]]
    rows = []
    for name, arm in record["arms"].items():
        best = best_coding(arm)
        info = best["information"]
        bound = ASYMPTOTE_OF.get(arm["memory"])
        rows.append(
            cmp.row(
                f"sparse {name}: information per synapse (best f = {best['coding']:g}, D = {best['D']})",
                criterion(arm),
                info["value"],
                None if bound is None else record["bounds"][bound],
                "" if bound is None else SOURCES[bound],
                interval=(info["low"], info["high"]),
                published_criterion=None if bound is None else PUBLISHED_CRITERION,
                note=f"a finite-D, {recall_text(arm)} measurement against an asymptote" + _training_note(best),
            )
        )
        codings = _codings(arm)
        dense = codings.get(0.5)
        if dense is not None and best["coding"] != 0.5:
            rows.append(
                cmp.row(
                    f"sparse {name}: information rises from f = ½ to f = {best['coding']:g}",
                    criterion(arm),
                    info["value"],
                    "sparse codes store more bits per synapse",
                    "Willshaw et al. 1969; Tsodyks & Feigel'man 1988",
                    verdict=cmp.direction(_above(info, dense["information"])),
                    interval=(info["low"], info["high"]),
                    note=f"f = ½: {dense['information']['value']} [{dense['information']['low']}, "
                    f"{dense['information']['high']}]" + _training_note(best),
                )
            )
    rows.extend(_bcpnn_row(record))
    rows.append(_holographic_row(record["holographic"]))
    return rows


def _training_note(entry: dict) -> str:
    """A backprop entry's fits: "; backprop lr …, converged" or "not converged (n of m fits at the cap, s stalled)"
    (stalled: flat at their first epoch's loss)."""
    fit = entry.get("training")
    if fit is None:
        return ""
    stalled = fit.get("fits_stalled", 0)
    at_cap = f"{fit['fits_not_converged'] - stalled} of {fit['fits']} at the cap" + (
        f", {stalled} stalled" if stalled else ""
    )
    status = fit["status"] if fit["converged"] else f"{fit['status']} ({at_cap})"
    return f"; backprop lr {fit['lr']}, median {fit['updates_median']} updates, {status}"


def _above(high: dict, low: dict) -> bool | None:
    """True when ``high``'s interval lies above ``low``'s, False when below, None when they overlap."""
    if high["low"] > low["high"]:
        return True
    return False if high["high"] < low["low"] else None


def _bcpnn_row(record: dict) -> list[dict]:
    arms = record["arms"]
    one_step = [a for a in arms.values() if a.get("sweeps", 1) == 1]
    bcpnn = next((a for a in one_step if a["memory"] == "bcpnn"), None)
    additive = next((a for a in one_step if a["memory"] == "threshold"), None)
    if bcpnn is None or additive is None:
        return []
    shared = sorted(set(_codings(bcpnn)) & set(_codings(additive)), key=lambda f: abs(f - 0.1))
    if not shared:
        return []
    f = shared[0]
    mine, theirs = _codings(bcpnn)[f]["information"], _codings(additive)[f]["information"]
    return [
        cmp.row(
            f"sparse BCPNN above the covariance rule at f = {f:g} (information per synapse)",
            criterion(bcpnn),
            mine["value"],
            "Bayesian-Hebbian highest, additive Hebb lowest",
            "Lansner, Knoblauch, Ravichandran & Herman 2026, arXiv:2605.01074",
            verdict=cmp.direction(_above(mine, theirs)),
            interval=(mine["low"], mine["high"]),
            note=f"covariance with threshold: {theirs['value']} [{theirs['low']}, {theirs['high']}]; BCPNN on its "
            "modular code, the others on k-of-D codes",
        )
    ]


def _holographic_row(holographic: dict) -> dict:
    interval = (holographic["slope_low"], holographic["slope_high"])
    has_interval = None not in interval
    return cmp.row(
        "holographic memory: exponent of K₀.₉ against D",
        f"log-log slope of K at 90% clean-up accuracy, {holographic['items']} items",
        holographic["slope"],
        1.0,
        "Plate 1995 (capacity linear in D at a fixed item count and accuracy)",
        verdict=cmp.interval_test(1.0, interval) if has_interval else cmp.INCONCLUSIVE,
        interval=interval if has_interval else None,
        headline=True,
    )
