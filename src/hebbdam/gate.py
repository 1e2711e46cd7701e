"""CI regression gate: compare a ci-profile run with the committed baseline, with bands measured from seed noise.

What the baseline folder (``reports/ci-baseline/``) holds:

- ``*.json``: the metrics records of the ci profile (``make ci-baseline``);
- ``spread.json``: the seed-to-seed spread of every metric, from the ci profile run once per seed
  (``make ci-calibrate`` = ``hebbdam gate calibrate SEED …``);
- ``tolerances.yaml`` and ``tolerances/<stage>.yaml`` (one per experiment, read after it): which metrics are gated
  (``fnmatch`` patterns on ``file:dotted.key``, first match wins), the ``multiple`` of the seed standard deviation a
  metric may move (shared), each pattern's ``floor`` (the smallest band) and ``default`` (the band of a metric that
  ``spread.json`` does not know yet), the keys ``exact`` on any CPU, and headline ``orderings``.

A numeric metric passes when |new - old| ≤ max(multiple · σ_seed, floor + rel_floor · |old|). "null" means one
thing: a *censored* estimate, whose record says which side of its grid it lies on in ``<key>_outside.side``
(``below_grid`` / ``above_grid``), with the grid's edge and the fraction there (gated as a number); "not measured"
is a key absent from the record. A censored estimate is compared as the interval beyond its edge; "missing" passes
only where the calibration saw it missing too; a null without its reason always fails. Orderings (``A > B``) must
hold in the new run, censored values counting as ±∞ on their side.
"""

from __future__ import annotations

import fnmatch
import math
import os
import shutil
import statistics
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from . import io
from .errors import HebbdamError
from .io import flatten  # the record's leaves: also read by every stage, which must not depend on the gate
from .logs import say

TOLERANCES_FILE = "tolerances.yaml"
TOLERANCES_DIR = "tolerances"  # one file per experiment: tolerances/<stage>.yaml
SPREAD_FILE = "spread.json"
OUTSIDE = "_outside"  # suffix of the record key that explains a null estimate
NUMBER = "number"  # the state of a measured (uncensored) value
EPSILON = 1e-12
SKIPPED_RECORDS = ("_curves.json", "_examples.json", "_votes.json")  # plots, not the gated records


@dataclass(frozen=True)
class Censored:
    """A null estimate: it lies below the grid's first load or above its last one (``edge``; None if unrecorded)."""

    side: str
    edge: float | None

    def interval(self) -> tuple[float, float]:
        if self.edge is None:
            return (-math.inf, -math.inf) if self.side == "below_grid" else (math.inf, math.inf)
        return (-math.inf, self.edge) if self.side == "below_grid" else (self.edge, math.inf)

    def __str__(self) -> str:
        return f"{'<' if self.side == 'below_grid' else '>'}{'?' if self.edge is None else f'{self.edge:g}'}"


Value = float | Censored | str  # a number, a censored estimate, or "missing" / "null without reason"


RANGE_CAP = 0.45  # the widest band of a bounded metric, as a fraction of its range: it can always fail
MIDDLE = 0.25  # a bounded metric this far (fraction of its range) from both ends may not jump to an end


@dataclass(frozen=True)
class Band:
    """A pattern's smallest band (``floor``, plus ``rel_floor`` · |old|), its band before calibration, and the range
    [low, high] of a bounded metric (a fraction, an accuracy, an error rate; None: unbounded)."""

    pattern: str
    floor: float
    default: float
    rel_floor: float = 0.0
    range: tuple[float, float] | None = None

    def cap(self, allowed: float) -> float:
        """A band never wider than RANGE_CAP of the metric's range, so that a bounded metric can always fail."""
        return allowed if self.range is None else min(allowed, RANGE_CAP * (self.range[1] - self.range[0]))

    def jumps_to_an_end(self, old: Value, new: Value, seen: list | None = None, allowed: float = 0.0) -> bool:
        """True when a bounded metric moved from the middle of its range (MIDDLE from both ends) onto an end of it:
        the signature of a broken rule (nothing recalled, or everything trivially right), unless the calibration
        saw that end, or a value within the metric's band ``allowed`` of it, among its seeds' values (``seen``:
        then reaching it is seed noise; e.g. a short training that solved 0.875 of its queries at one seed may
        solve all of them at another)."""
        if self.range is None or not (isinstance(old, float) and isinstance(new, float)):
            return False
        low, high = self.range
        margin = MIDDLE * (high - low)
        if not (low + margin <= old <= high - margin and new in (low, high)):
            return False
        near = [v for v in seen or [] if isinstance(v, float) and abs(v - new) <= allowed + EPSILON]
        return not near


@dataclass(frozen=True)
class Tolerances:
    multiple: float
    bands: list[Band]
    orderings: list[str]
    exact: list[str] = field(default_factory=list)  # keys exact on any CPU: equal to the baseline at its seed

    def band_for(self, key: str) -> Band | None:
        return next((b for b in self.bands if fnmatch.fnmatchcase(key, b.pattern)), None)

    def is_exact(self, key: str) -> bool:
        return any(fnmatch.fnmatchcase(key, pattern) for pattern in self.exact)


@dataclass(frozen=True)
class Check:
    key: str
    old: Value
    new: Value
    allowed: float | None  # None: a state (not a number) is compared
    source: str  # how the band was set: "4σ", "floor", "default", or why a state comparison passed/failed
    passed: bool


# ---------------------------------------------------------------------------------------------------------- records


def value_of(leaves: dict, key: str) -> Value:
    """A metric as the gate sees it: its number, the side of the grid of a censored (null) estimate, "missing"
    (not measured in this run) or "null without reason" (a record that does not say why it is null)."""
    if key not in leaves:
        return "missing"
    value = leaves[key]
    if value is None:
        side, edge = leaves.get(f"{key}{OUTSIDE}.side"), leaves.get(f"{key}{OUTSIDE}.load")
        if side not in ("below_grid", "above_grid"):
            return "null without reason"
        return Censored(side, edge if isinstance(edge, float) else None)
    return value


def state_of(value: Value) -> str:
    return NUMBER if isinstance(value, float) else value.side if isinstance(value, Censored) else value


def interval(value: float | Censored) -> tuple[float, float]:
    return (value, value) if isinstance(value, float) else value.interval()


def read_records(folder: Path) -> dict[str, dict]:
    """{"file.json:dotted.key": leaf} of every metrics record (not the plot files) in ``folder``."""
    leaves: dict[str, dict] = {}
    for path in sorted(folder.glob("*.json")):
        if path.name == SPREAD_FILE or path.name.endswith(SKIPPED_RECORDS):
            continue
        leaves[path.name] = flatten(io.read_json(path))
    return leaves


def numeric_keys(records: dict[str, dict]) -> list[str]:
    """Every "file:key" whose value is a number or a null estimate (strings are labels, and sides live in them)."""
    return [f"{name}:{key}" for name, leaves in records.items() for key, v in leaves.items() if not isinstance(v, str)]


def lookup(records: dict[str, dict], full_key: str) -> Value:
    name, _, key = full_key.partition(":")
    return value_of(records.get(name, {}), key)


# ------------------------------------------------------------------------------------------------------ tolerances


def load_tolerances(baseline_dir: Path) -> Tolerances:
    """The gate's rules: ``tolerances.yaml`` (``multiple`` and the patterns every stage shares, read first), then one
    file per experiment, ``tolerances/<stage>.yaml``, in name order, each with its own ``metrics``, ``exact`` and
    ``orderings``. A stage file's patterns must name its stage's records (their file part starts with the file's
    name, and no stage file's name starts another's), so no stage file matches another's keys and their order cannot
    change a band."""
    path = baseline_dir / TOLERANCES_FILE
    if not path.is_file():
        raise HebbdamError(f"{path}: tolerance file not found (it holds multiple, metrics and orderings)")
    shared = read_spec(path)
    if not isinstance(shared.get("multiple"), int | float):
        raise HebbdamError(f"{path}: expected a top-level 'multiple: <number>' (band = multiple × seed std)")
    bands, orderings, exact = parse_rules(path, shared)
    stage_files = sorted((baseline_dir / TOLERANCES_DIR).glob("*.yaml"))
    for stage_file in stage_files:
        stage = stage_file.stem
        spec = read_spec(stage_file)
        if "multiple" in spec:
            raise HebbdamError(f"{stage_file}: 'multiple' belongs in {path.name} (one multiple for every stage)")
        overlapping = [f.name for f in stage_files if f != stage_file and f.stem.startswith(stage)]
        if overlapping:
            raise HebbdamError(f"{stage_file}: its name starts {overlapping[0]}'s; stage files must not overlap")
        stage_bands, stage_orderings, stage_exact = parse_rules(stage_file, spec)
        sides = [side for ordering in stage_orderings for side in ordering_sides(ordering)]
        for pattern in [b.pattern for b in stage_bands] + stage_exact + sides:
            if not pattern.startswith(stage):
                raise HebbdamError(f"{stage_file}: '{pattern}' is not a key of the {stage} records")
        bands, orderings, exact = bands + stage_bands, orderings + stage_orderings, exact + stage_exact
    return Tolerances(float(shared["multiple"]), bands, orderings, exact)


def read_spec(path: Path) -> dict:
    """One tolerance file's mapping (an empty file is an empty mapping)."""
    spec = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(spec, dict):
        raise HebbdamError(f"{path}: expected a mapping of metrics, exact and orderings")
    return spec


def parse_rules(path: Path, spec: dict) -> tuple[list[Band], list[str], list[str]]:
    """A tolerance file's bands (in file order), orderings and exact patterns, each checked."""
    bands = []
    for pattern, entry in (spec.get("metrics") or {}).items():
        if not isinstance(entry, dict) or not {"floor", "default"} <= set(entry) <= BAND_KEYS:
            raise HebbdamError(
                f"{path}: metrics entry '{pattern}': expected {{floor: <number>, default: <number>}} "
                "(and optionally rel_floor: <fraction of |old|>, range: [low, high])"
            )
        bands.append(
            Band(
                pattern,
                float(entry["floor"]),
                float(entry["default"]),
                float(entry.get("rel_floor", 0)),
                parse_range(entry.get("range"), f"{path}: metrics entry '{pattern}'"),
            )
        )
    orderings = spec.get("orderings") or []
    for ordering in orderings:
        parse_ordering(ordering, path)
    exact = spec.get("exact") or []
    if not isinstance(exact, list) or not all(isinstance(p, str) and ":" in p for p in exact):
        raise HebbdamError(f"{path}: 'exact' must be a list of \"file.json:key\" patterns (keys exact on any CPU)")
    return bands, list(orderings), list(exact)


BAND_KEYS = {"floor", "default", "rel_floor", "range"}


def parse_range(value: object, where: str) -> tuple[float, float] | None:
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in value)
        or not value[0] < value[1]
    ):
        raise HebbdamError(f"{where}: range: expected [low, high] with low < high, got {value!r}")
    return float(value[0]), float(value[1])


def parse_ordering(text: object, path: Path | str = TOLERANCES_FILE) -> tuple[str, str, str]:
    """ "file:key > file:key" (or >=) → (left, operator, right)."""
    for operator in (">=", ">"):
        if isinstance(text, str) and f" {operator} " in text:
            left, right = text.split(f" {operator} ")
            return left.strip(), operator, right.strip()
    raise HebbdamError(f"{path}: ordering {text!r}: expected 'file.json:key > file.json:key' (or >=)")


def ordering_sides(ordering: str) -> list[str]:
    """The record keys ("file.json:key") an ordering compares; a side that is a number is left out."""
    left, _, right = parse_ordering(ordering)
    return [side for side in (left, right) if ":" in side]


def load_spread(baseline_dir: Path) -> dict[str, dict]:
    path = baseline_dir / SPREAD_FILE
    record = io.read_json(path) if path.is_file() else {}
    return record.get("metrics", {}) if isinstance(record, dict) else {}


# --------------------------------------------------------------------------------------------------------- compare


def band_width(band: Band, spread: dict | None, multiple: float, old: Value) -> tuple[float, str]:
    """The allowed move of one metric and where it comes from: max(multiple · σ_seed, floor + rel_floor · |old|),
    or the pattern's default when the spread file has no σ for it."""
    if spread and spread.get("std") is not None and math.isfinite(spread["std"]):
        sigma_band = multiple * spread["std"]
        floor = band.floor + (band.rel_floor * abs(old) if isinstance(old, float) else 0.0)
        allowed, source = max(sigma_band, floor), (f"{multiple:g}σ" if sigma_band > floor else "floor")
    else:
        allowed, source = band.default, "default"
    capped = band.cap(allowed)
    return capped, source if capped == allowed else "range cap"


def check_metric(key: str, old: Value, new: Value, band: Band, spread: dict | None, multiple: float) -> Check:
    """Numbers within the band; a censored estimate is the interval beyond its grid edge, which must come within
    the band of the other value (so the same side passes, and a crossing that just left the grid is compared with
    the grid's edge); "missing" passes only where the calibration saw it missing too."""
    if "null without reason" in (old, new):
        return Check(key, old, new, None, f"null without {OUTSIDE}", False)
    if any(isinstance(v, float) and not math.isfinite(v) for v in (old, new)):
        return Check(key, old, new, None, "not finite", False)  # NaN compares false with every band: never passes
    if "missing" in (old, new):
        seen = set(spread["states"]) if spread else set()
        passed = {state_of(old), state_of(new)} <= seen
        return Check(key, old, new, None, "seed-dependent" if passed else "not measured", passed)
    allowed, source = band_width(band, spread, multiple, old)
    if band.jumps_to_an_end(old, new, spread.get("values") if spread else None, allowed):
        return Check(key, old, new, allowed, "jump to an end of the range", False)
    assert not isinstance(old, str) and not isinstance(new, str)  # the states were compared above
    (old_low, old_high), (new_low, new_high) = interval(old), interval(new)
    gap = max(0.0, new_low - old_high, old_low - new_high) if (old_low, old_high) != (new_low, new_high) else 0.0
    if gap > allowed + EPSILON and near_a_calibration_seed(new, spread, allowed):
        return Check(key, old, new, allowed, "near a calibration seed", True)
    return Check(key, old, new, allowed, source, gap <= allowed + EPSILON)


def near_a_calibration_seed(new: float | Censored, spread: dict | None, allowed: float) -> bool:
    """Whether ``new`` lies within the band of a value one of the calibration seeds gave (a censored value: on a side
    a seed was censored on). A metric whose seeds split into modes (a readout that diverges at one seed in five, a
    fraction of a few samples) moves from the baseline's mode to another one at a seed change; that is seed noise
    the calibration saw, not a regression, and the calibration seeds themselves must pass the gate."""
    seen = (spread or {}).get("values") or []
    if isinstance(new, Censored):
        return new.side in seen
    return any(isinstance(v, float) and abs(v - new) <= allowed + EPSILON for v in seen)


def censoring_detail(key: str, old_records: dict, new_records: dict) -> Check | None:
    """A ``<metric>_outside.<detail>`` key describes a censored estimate: it is compared only when the metric is
    censored on the same side in both runs. Otherwise the metric's own interval check decides, and the detail
    passes here (a detail that appears or disappears with the censoring is not "not measured")."""
    if OUTSIDE + "." not in key:
        return None
    parent = key[: key.index(OUTSIDE + ".")]
    old_parent, new_parent = lookup(old_records, parent), lookup(new_records, parent)
    if isinstance(old_parent, Censored) and isinstance(new_parent, Censored) and old_parent.side == new_parent.side:
        return None
    old, new = lookup(old_records, key), lookup(new_records, key)
    return Check(key, old, new, None, f"{parent.partition(':')[2]} compared as an interval", True)


def compare(baseline_dir: Path, metrics_dir: Path, same_seed: bool = False) -> list[Check]:
    """Every gated metric of every baseline record, old against new. With ``same_seed`` (the run used the
    baseline's seed) a key of the tolerance file's ``exact`` list must equal the baseline bit for bit: it is exact
    arithmetic on ±1 states, the same on every CPU (README, "Exact and tolerance quantities")."""
    tolerances = load_tolerances(baseline_dir)
    spread = load_spread(baseline_dir)
    old_records, new_records = read_records(baseline_dir), read_records(metrics_dir)
    checks = []
    for key in numeric_keys(old_records):
        if same_seed and tolerances.is_exact(key):
            old, new = lookup(old_records, key), lookup(new_records, key)
            checks.append(Check(key, old, new, 0.0, "exact at the baseline's seed", old == new))
            continue
        band = tolerances.band_for(key)
        if band is not None:
            detail = censoring_detail(key, old_records, new_records)
            if detail is not None:
                checks.append(detail)
                continue
            old, new = lookup(old_records, key), lookup(new_records, key)
            checks.append(check_metric(key, old, new, band, spread.get(key), tolerances.multiple))
    return checks


def as_number(value: Value) -> float | str:
    if isinstance(value, Censored):
        return -math.inf if value.side == "below_grid" else math.inf
    return value


def operand(records: dict[str, dict], text: str) -> Value:
    """A side of an ordering: "file.json:key" or a number (a floor a headline metric must stay above)."""
    try:
        return float(text)
    except ValueError:
        return lookup(records, text)


def check_orderings(tolerances: Tolerances, records: dict[str, dict]) -> list[Check]:
    """Each headline ordering "A > B" on a run's records; the check's old/new columns hold A and B."""
    checks = []
    for ordering in tolerances.orderings:
        left_key, operator, right_key = parse_ordering(ordering)
        left, right = operand(records, left_key), operand(records, right_key)
        a, b = as_number(left), as_number(right)
        holds = False
        if isinstance(a, float) and isinstance(b, float) and not (math.isnan(a) or math.isnan(b)):
            holds = a > b if operator == ">" else a >= b
        checks.append(Check(ordering, left, right, None, "ordering", holds))
    return checks


def table(checks: list[Check]) -> str:
    def fmt(value: Value | None) -> str:
        return "—" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)

    width = max([len(c.key) for c in checks] + [6])
    lines = [f"{'metric (ordering: A > B)':<{width}}  {'old | A':>11}  {'new | B':>11}  {'allowed ±':>9}  band  result"]
    for c in checks:
        lines.append(
            f"{c.key:<{width}}  {fmt(c.old):>11}  {fmt(c.new):>11}  {fmt(c.allowed):>9}  {c.source}  "
            f"{'ok' if c.passed else 'FAIL'}"
        )
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------------- calibrate


def spread_of(runs: list[dict[str, dict]]) -> dict[str, dict]:
    """Per metric over seed runs: its values (numbers, or the side of a censored estimate), the states seen, and
    the standard deviation of the numbers (None with fewer than two)."""
    keys = sorted({key for records in runs for key in numeric_keys(records)})
    spread = {}
    for key in keys:
        values = [lookup(records, key) for records in runs]
        numbers = [v for v in values if isinstance(v, float) and math.isfinite(v)]
        spread[key] = {
            "values": [v if isinstance(v, float | str) else v.side for v in values],
            "states": sorted({state_of(v) for v in values}),
            "std": round(statistics.stdev(numbers), 6) if len(numbers) >= 2 else None,
        }
    return spread


DEFAULT_SEEDS = ("0", "1", "2", "3", "4")  # at least five: a σ from fewer is too loose a guess for an 8σ band
RUNS_DIR = ".ci-calibrate"  # per-seed ci metrics kept between calibrations (git-ignored): a rerun resumes
DONE = "calibrate-done.json"  # written last into a seed's folder: its run finished (seed, seconds, commit)


def run_seed(repo: Path, seed: str, out: Path) -> float:
    """The ci profile with ``seed`` in a scratch copy, its metrics into ``out``; the seconds it took. A seed whose
    folder holds DONE from an earlier calibration is not rerun (an interrupted calibration resumes)."""
    done = out / DONE
    if done.is_file():
        say(f"calibrate: seed {seed}: kept from an earlier run ({done})")
        return float(io.read_json_object(done)["elapsed_s"])  # written by this function
    if out.exists():
        shutil.rmtree(out)  # an unfinished run: start the seed again
    start = time.perf_counter()
    command = ["nice", "-n", "10", "bash", str(repo / ".ci" / "pipeline"), "--seed", seed, "--metrics-to", str(out)]
    result = subprocess.run(command, cwd=repo, capture_output=True, text=True)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise HebbdamError(f"calibrate: the ci pipeline failed for seed {seed}: {last}")
    elapsed = time.perf_counter() - start
    io.write_json(done, {"seed": int(seed), "elapsed_s": round(elapsed), "commit": head_commit(repo)})
    say(f"calibrate: seed {seed} took {elapsed:.0f} s")
    return elapsed


def head_commit(repo: Path) -> str | None:
    result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True)
    return result.stdout.strip() or None


def calibrate(seeds: list[str], baseline_dir: Path, jobs: int, runs_dir: Path | None = None) -> Path:
    """Run the ci profile once per seed (``jobs`` at a time, each in its own scratch copy) → ``spread.json``.

    Each seed's metrics stay in ``runs_dir/seed<N>/`` (default ``.ci-calibrate/`` in the repository) with a DONE
    marker, so a calibration that was interrupted or failed on one seed resumes where it stopped; the folder is
    kept until the spread is written and removed after it."""
    repo = Path(__file__).resolve().parents[2]
    runs_dir = runs_dir or repo / RUNS_DIR
    start = time.perf_counter()
    outs = [runs_dir / f"seed{seed}" for seed in seeds]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        seconds = list(pool.map(lambda pair: run_seed(repo, *pair), zip(seeds, outs, strict=True)))
    runs = [read_records(out) for out in outs]
    timing = {
        "elapsed_s": round(time.perf_counter() - start),
        "seed_seconds": {seed: round(s) for seed, s in zip(seeds, seconds, strict=True)},
        "jobs": jobs,
        "commit": head_commit(repo),
    }
    path = write_spread(runs, seeds, baseline_dir, timing)
    shutil.rmtree(runs_dir, ignore_errors=True)
    return path


def write_spread(runs: list[dict[str, dict]], seeds: list[str], baseline_dir: Path, timing: dict) -> Path:
    record = {
        "command": f"hebbdam gate calibrate {' '.join(seeds)} jobs={timing.get('jobs')}",
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seeds": [int(s) for s in seeds],
        **timing,
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "metrics": spread_of(runs),
    }
    path = io.write_json(baseline_dir / SPREAD_FILE, record)
    tolerances = load_tolerances(baseline_dir)
    for index, records in enumerate(runs):
        for check in check_orderings(tolerances, records):
            if not check.passed:
                say(f"calibrate: ordering '{check.key}' fails for seed {seeds[index]}: {check.old} vs {check.new}")
    say(f"calibrate: spread of {len(record['metrics'])} metrics over seeds {seeds} → {path}")
    return path


# -------------------------------------------------------------------------------------------------------------- cli


def parse_jobs(words: list[str]) -> int:
    """``jobs=N`` among the words (default: one seed per two cores, at least one)."""
    text = next((w.split("=", 1)[1] for w in words if w.startswith("jobs=")), None)
    if text is None:
        return max(1, (os.cpu_count() or 1) // 2)
    if not text.isdigit() or int(text) < 1:
        raise HebbdamError(f"gate calibrate: jobs={text}: expected a positive integer")
    return int(text)


def check_seeds(seeds: list[str]) -> None:
    bad = [s for s in seeds if not s.isdigit() or int(s) > 2**32 - 1]
    if bad or len(set(seeds)) != len(seeds):
        raise HebbdamError(f"gate calibrate: seeds {seeds}: expected distinct integers in 0..{2**32 - 1}")


def main(args) -> None:
    """``hebbdam gate``: gate ``--metrics`` against ``--baseline``; ``hebbdam gate calibrate SEED …``: measure the
    seed spread (``jobs=N`` among the words runs N seeds at once); ``hebbdam gate spread DIR …``: the same from
    folders of metrics already run, one per seed."""
    baseline_dir = Path(args.baseline or "reports/ci-baseline")
    words = list(args.overrides)
    if words and words[0] in ("calibrate", "spread"):
        mode, rest = words[0], words[1:]
        jobs = parse_jobs(rest)
        rest = [w for w in rest if not w.startswith("jobs=")]
        if mode == "calibrate" and not rest:
            rest = list(DEFAULT_SEEDS)
        if mode == "calibrate":
            check_seeds(rest)
        if len(rest) < 2:
            raise HebbdamError(f"gate {mode}: expected at least two {'seeds' if mode == 'calibrate' else 'folders'}")
        if mode == "calibrate":
            calibrate(rest, baseline_dir, jobs)
        else:
            runs = [read_records(Path(folder)) for folder in rest]
            seeds = [Path(folder).name.removeprefix("seed") for folder in rest]
            write_spread(runs, seeds, baseline_dir, {"elapsed_s": None, "jobs": None})
        return
    if words:
        raise HebbdamError(f"gate: unexpected words {words} (expected nothing, 'calibrate SEED …' or 'spread DIR …')")
    metrics_dir = Path(args.metrics or "reports/metrics")
    checks = compare(baseline_dir, metrics_dir, same_seed=bool(getattr(args, "same_seed", False)))
    if not checks:
        raise HebbdamError(f"{baseline_dir}: no baseline metric matched a tolerance pattern; nothing was gated")
    orderings = check_orderings(load_tolerances(baseline_dir), read_records(metrics_dir))
    print(table(checks + orderings))
    failed = [c for c in checks + orderings if not c.passed]
    if failed:
        bad_metrics, bad_orderings = sum(not c.passed for c in checks), sum(not c.passed for c in orderings)
        names = ", ".join(c.key for c in failed[:3]) + (", …" if len(failed) > 3 else "")
        raise HebbdamError(
            f"regression gate: {bad_metrics} of {len(checks)} metrics and {bad_orderings} of {len(orderings)} "
            f"orderings failed ({names}); refresh the baseline with `make ci-baseline` if the change is intended"
        )
    say(f"regression gate: all {len(checks)} metrics and {len(orderings)} orderings hold against {baseline_dir}")
