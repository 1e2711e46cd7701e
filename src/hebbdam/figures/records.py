"""Reading records by their explicit fields: figures never parse numbers out of key strings such as "D100"."""

from __future__ import annotations


def entries_by(entry: dict, field: str) -> dict[int | float, dict]:
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
