"""CI regression gate: compare metrics files with a committed baseline, metric by metric, within tolerances.

``dvc metrics diff`` shows differences but has no tolerance. Here every numeric leaf of every baseline JSON file is
matched against the patterns of ``tolerances.yaml`` (``fnmatch`` on ``file:dotted.key``; first match wins) and must
satisfy |new - old| ≤ abs + rel·|old|. Leaves that no pattern matches are not gated. A gated metric missing from the
new run fails as well.
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass
from pathlib import Path

import yaml

from . import io
from .errors import HebbdamError
from .logs import say

TOLERANCES_FILE = "tolerances.yaml"


@dataclass(frozen=True)
class Check:
    key: str
    old: float | None
    new: float | None
    allowed: float | None

    @property
    def passed(self) -> bool:
        if self.old is None or self.new is None:
            return self.old is None and self.new is None
        return abs(self.new - self.old) <= self.allowed + 1e-12


def flatten(node: object, prefix: str = "") -> dict[str, float | None]:
    """Numeric (and null) leaves of nested dicts as {"a.b.c": value}; lists and strings are skipped."""
    if isinstance(node, dict):
        leaves: dict[str, float | None] = {}
        for key, value in node.items():
            leaves.update(flatten(value, f"{prefix}{key}."))
        return leaves
    if node is None or (isinstance(node, int | float) and not isinstance(node, bool)):
        return {prefix[:-1]: None if node is None else float(node)}
    return {}


def load_tolerances(baseline_dir: Path) -> list[tuple[str, float, float]]:
    path = baseline_dir / TOLERANCES_FILE
    if not path.is_file():
        raise HebbdamError(f"{path}: tolerance file not found (it lists 'file:key pattern: {{abs: …, rel: …}}')")
    entries = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    rules = []
    for pattern, spec in entries.items():
        if not isinstance(spec, dict) or not set(spec) <= {"abs", "rel"}:
            raise HebbdamError(f"{path}: entry '{pattern}': expected a mapping with keys abs and/or rel")
        rules.append((pattern, float(spec.get("abs", 0.0)), float(spec.get("rel", 0.0))))
    return rules


def compare(baseline_dir: Path, metrics_dir: Path) -> list[Check]:
    """Every gated metric of every baseline file, old against new."""
    rules = load_tolerances(baseline_dir)
    checks = []
    for baseline_file in sorted(baseline_dir.glob("*.json")):
        old_leaves = flatten(io.read_json(baseline_file))
        new_path = metrics_dir / baseline_file.name
        new_leaves = flatten(io.read_json(new_path)) if new_path.is_file() else {}
        for key, old in old_leaves.items():
            full_key = f"{baseline_file.name}:{key}"
            rule = next((r for r in rules if fnmatch.fnmatchcase(full_key, r[0])), None)
            if rule is None:
                continue
            _, absolute, relative = rule
            allowed = None if old is None else absolute + relative * abs(old)
            new = new_leaves.get(key, math.nan)  # nan: missing from the new run
            checks.append(Check(full_key, old, new, allowed))
    return checks


def table(checks: list[Check]) -> str:
    def fmt(value: float | None) -> str:
        return "—" if value is None else ("missing" if math.isnan(value) else f"{value:.4g}")

    width = max([len(c.key) for c in checks] + [6])
    lines = [f"{'metric':<{width}}  {'old':>9}  {'new':>9}  {'allowed ±':>9}  result"]
    for c in checks:
        lines.append(
            f"{c.key:<{width}}  {fmt(c.old):>9}  {fmt(c.new):>9}  {fmt(c.allowed):>9}  {'ok' if c.passed else 'FAIL'}"
        )
    return "\n".join(lines)


def main(args) -> None:
    baseline_dir = Path(args.baseline or "reports/ci-baseline")
    metrics_dir = Path(args.metrics or "reports/metrics")
    checks = compare(baseline_dir, metrics_dir)
    if not checks:
        raise HebbdamError(f"{baseline_dir}: no baseline metric matched a tolerance pattern; nothing was gated")
    print(table(checks))
    failed = [c for c in checks if not c.passed]
    if failed:
        raise HebbdamError(
            f"regression gate: {len(failed)} of {len(checks)} metrics moved outside their tolerance "
            f"(refresh the baseline with `make ci-baseline` if the change is intended)"
        )
    say(f"regression gate: all {len(checks)} metrics within tolerance of {baseline_dir}")
