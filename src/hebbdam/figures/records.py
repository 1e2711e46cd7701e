"""Reading records by their explicit fields: figures never parse numbers out of key strings such as "D100"."""

from __future__ import annotations


def entries_by(entry: dict, field: str) -> dict[int | float, dict]:
    """{value of ``field``: sub-entry} for the sub-entries of ``entry`` that carry ``field`` (e.g. the per-dimension
    entries of an arm by their ``dim``), sorted by it."""
    return dict(sorted((sub[field], sub) for sub in entry.values() if isinstance(sub, dict) and field in sub))


def dims_of(entry: dict) -> list[int]:
    """The dimensions D of an entry's per-dimension sub-entries (their ``dim`` field), ascending."""
    return list(entries_by(entry, "dim"))
