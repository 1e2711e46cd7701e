"""Reading records by their explicit fields: figures never parse numbers out of key strings such as "D100"."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


def entries_by(entry: dict, field: str) -> dict[Any, dict]:
    """{value of ``field``: sub-entry} for the sub-entries of ``entry`` that carry ``field`` (e.g. the per-dimension
    entries of an arm by their ``dim``), sorted by it."""
    return dict(sorted((sub[field], sub) for sub in entry.values() if isinstance(sub, dict) and field in sub))


def dims_of(entry: dict) -> list[int]:
    """The dimensions D of an entry's per-dimension sub-entries (their ``dim`` field), ascending."""
    return list(entries_by(entry, "dim"))


def best_local_against_nonlocal(sides: dict[str, list[tuple]]) -> tuple[tuple, tuple, str] | None:
    """The best local and the best nonlocal (value, low, high, name) of ``sides`` {"local": [...], "nonlocal": [...]},
    and whether their 95% intervals separate; None when one side has nothing measured."""
    if not sides["local"] or not sides["nonlocal"]:
        return None
    local, remote = max(sides["local"]), max(sides["nonlocal"])
    (lv, ll, lh, _), (nv, nl, nh, _) = local, remote
    if None in (ll, lh, nl, nh) or (ll <= nh and nl <= lh):
        return local, remote, "the intervals overlap: not resolved at these sizes"
    return local, remote, ("local is higher" if lv > nv else "nonlocal is higher") + " beyond the intervals"


# the answer per budget (E8): best local against best nonlocal, with convergence -----------------------------------
LOCAL_AHEAD, NONLOCAL_AHEAD, NOT_RESOLVED, NOT_CONVERGED = (
    "local ahead",
    "nonlocal ahead",
    "not resolved",
    "not converged",
)


@dataclass(frozen=True)
class Candidate:
    """One arm's number at one budget: ``value`` with its 95% interval [``low``, ``high``] (None: unknown),
    ``locality`` "local" / "nonlocal", and whether its optimiser reached its plateau (``converged``; one-shot and
    local rules: True)."""

    name: str
    locality: str
    value: float
    low: float | None
    high: float | None
    converged: bool = True

    def text(self) -> str:
        """ "name value [low, high]", with " (not converged)" when its optimiser stopped at its cap; an estimate
        beyond the grid (the edge, its open side 0 or ∞) reads "name < edge (below the grid)" or "name ≥ edge (above
        the grid)"."""
        edge = number_text(self.value)
        if self.high == math.inf and self.low == self.value:
            text = f"{self.name} ≥ {edge} (above the grid)"
        elif self.low == 0.0 and self.high == self.value:
            text = f"{self.name} < {edge} (below the grid)"
        else:
            text = f"{self.name} {edge} [{number_text(self.low)}, {number_text(self.high)}]"
        return text if self.converged else text + " (not converged)"


def number_text(value: float | None) -> str:
    """A number of the report: 3 significant digits; "—" when unknown, "∞" for an interval open above."""
    if value is None:
        return "—"
    return "∞" if value == math.inf else f"{value:.3g}"


def budget_verdict(candidates: list[Candidate]) -> tuple[Candidate, Candidate, str] | None:
    """The best local and the best nonlocal of ``candidates`` (one budget, one metric, higher is better) and the
    verdict: ``local ahead`` / ``nonlocal ahead`` when their 95% intervals separate, ``not resolved`` when they
    overlap (or one is unknown), and ``not converged`` when an arm that did not reach its plateau sits on the losing
    or tied side, or is itself the winner (training it further could change the answer: more training can lower
    the recall criterion too, since the loss trained is not that criterion). An unconverged arm below the winner on
    the winning side cannot change it. None when one side has no candidate."""
    sides = {side: [c for c in candidates if c.locality == side] for side in ("local", "nonlocal")}
    if not sides["local"] or not sides["nonlocal"]:
        return None
    local = max(sides["local"], key=lambda c: c.value)
    remote = max(sides["nonlocal"], key=lambda c: c.value)
    ll, lh, rl, rh = local.low, local.high, remote.low, remote.high
    if ll is None or lh is None or rl is None or rh is None or (ll <= rh and rl <= lh):
        verdict = NOT_RESOLVED
    else:
        verdict = LOCAL_AHEAD if local.value > remote.value else NONLOCAL_AHEAD
    for side, winning, best in (("nonlocal", NONLOCAL_AHEAD, remote), ("local", LOCAL_AHEAD, local)):
        if not all(c.converged for c in sides[side]) and (verdict != winning or not best.converged):
            verdict = NOT_CONVERGED
    return local, remote, verdict
