"""What every experiment stage shares: seeding, device choice, trainer options, the stage's files and its W&B run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, is_dataclass, replace
from fnmatch import fnmatch
from pathlib import Path
from typing import Any, TypeVar, cast, overload

import torch

from .. import io
from ..config import Params, load_params
from ..errors import HebbdamError
from ..logs import say
from ..memory import Exponential, Power, Separation
from ..parallel import use_devices
from ..rules import get_rule
from ..seeds import generator_for  # noqa: F401  (re-exported: experiments seed through common)
from ..settings.arms import RuleSpec
from ..settings.common import SeparationSchema
from ..tracking import stage_run

T = TypeVar("T")


def stage_devices(params: Params) -> tuple[int, str]:
    """(devices, accelerator) the stage spreads its independent fits over (:func:`hebbdam.parallel.use_devices`):
    ``trainer.devices`` under strategy ``auto`` ("auto": every visible GPU, or one CPU process); 1 where a ddp
    strategy splits each fit over the devices instead."""
    accelerator = str(params.raw("trainer.accelerator", "cpu"))
    if params.raw("trainer.strategy", "auto") not in (None, "auto"):
        return 1, accelerator
    devices = params.raw("trainer.devices", 1)
    if devices == "auto":
        gpu = accelerator in ("gpu", "cuda", "auto") and torch.cuda.is_available()
        devices = torch.cuda.device_count() if gpu else 1
    return int(devices), accelerator


def compute_device(params: Params) -> torch.device:
    """Where recall runs: the GPU when the trainer asks for one and it exists, else the CPU."""
    wants_gpu = params.raw("trainer.accelerator", "cpu") in ("gpu", "cuda", "auto")
    return torch.device("cuda" if wants_gpu and torch.cuda.is_available() else "cpu")


def built(settings: T) -> T:
    """``settings`` (a schema instance of :mod:`hebbdam.settings`) with what its schemas hold as specifications
    built: each :class:`SeparationSchema` becomes its :class:`Separation`, each :class:`RuleSpec` its
    :class:`hebbdam.rules.Rule`, in nested schemas and lists of arms alike."""
    if isinstance(settings, SeparationSchema):
        if settings.kind == "power":
            return Power(settings.n, rectified=settings.rectified)  # type: ignore[return-value]
        return Exponential(settings.beta)  # type: ignore[return-value]
    if isinstance(settings, RuleSpec):
        return get_rule(settings.name, **settings.hyper)  # type: ignore[return-value]
    if isinstance(settings, list):
        return [built(item) for item in settings]  # type: ignore[return-value]
    if is_dataclass(settings) and not isinstance(settings, type):
        changed = {f.name: built(getattr(settings, f.name)) for f in fields(settings) if f.init}
        return replace(settings, **changed)
    return settings


@overload
def separation_at(separation: Separation, dim: int) -> Separation: ...


@overload
def separation_at(separation: None, dim: int) -> None: ...


def separation_at(separation: Separation | None, dim: int) -> Separation | None:
    """The separation for dimension D: powers are scale-free; the exponential's beta is per raw overlap."""
    return Exponential(separation.beta * dim) if isinstance(separation, Exponential) else separation


@dataclass(frozen=True)
class Curves:
    """One plotted family of a stage's curves file: long-format rows holding ``x``, the ``y`` fields and the
    fields that name the line a row belongs to (``series``, e.g. arm and D). ``rows``: the key of the row list
    when the file holds a mapping. The stage writes each row's line name into its ``series`` field, which the
    DVC plot template colours by and the W&B line plots stroke by."""

    file: str
    x: str
    y: tuple[str, ...]
    series: tuple[str, ...]
    rows: str | None = None

    def label(self, row: dict) -> str:
        """ "hebb_async D=100": the first series field bare, the others as name=value."""
        first, *rest = self.series
        return " ".join([str(row[first]), *(f"{name}={row[name]}" for name in rest)])

    def table(self, files: dict[str, object]) -> list[dict]:
        content: Any = files[self.file]  # the rows, or a mapping holding them under ``rows``
        return content[self.rows] if self.rows is not None else content


def uniform_rows(rows: list[dict]) -> list[dict]:
    """Give every row of a curves table the same keys, in place: a field a row lacks becomes null (not measured
    there, e.g. ``at_attractor_spurious`` where no sample ended spurious). DVC's plot converter refuses a table whose
    rows carry different key sets (``dvc plots show``: "argument of type 'NoneType' is not iterable")."""
    keys = {key for row in rows for key in row}
    for row in rows:
        row.update(dict.fromkeys(keys - row.keys()))
    return rows


def select(record: dict, *patterns: str) -> dict[str, float | None]:
    """Numeric (or null) leaves of ``record`` whose dotted key matches one of the ``fnmatch`` ``patterns``, in record
    order; string leaves (names, sides) are not numbers and are skipped."""
    leaves = io.flatten(record).items()
    return {k: v for k, v in leaves if not isinstance(v, str) and any(fnmatch(k, p) for p in patterns)}


def headline_numbers(headline: dict, stage: str) -> dict[str, float | None]:
    """Check that a headline holds numbers (or null) only: it is what ``dvc metrics show`` / ``dvc exp show`` print.
    A leading ``arms.`` is dropped from the keys (short columns: "one_shot.best_test_error")."""
    numbers = {}
    for key, value in headline.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise HebbdamError(f"{stage}: headline value {key!r} is {value!r}; a headline holds numbers only")
        numbers[key.removeprefix("arms.")] = value
    return numbers


def null_reasons(numbers: dict, record: dict) -> dict[str, str]:
    """Why each null of ``numbers`` (a headline: "arm.critical_load") is null, from the record: the estimate's
    ``<name>_outside`` entry under the same owners (its side of the grid, the grid's edge and the fraction there; the
    last one in record order, i.e. the largest D), else "not measured"."""
    leaves = io.flatten(record)
    reasons = {}
    for key in (key for key, value in numbers.items() if value is None):
        *owners, name = key.split(".")
        outside = [
            path[: -len(".side")]
            for path in leaves
            if path.endswith(f"{name}_outside.side") and all(owner in path.split(".") for owner in owners)
        ]
        reasons[key] = "not measured"
        if outside:
            found = outside[-1]
            edge, fraction = leaves.get(f"{found}.load"), leaves.get(f"{found}.fraction")
            reasons[key] += f": {leaves[found + '.side']} (grid edge {edge}, fraction {fraction} there)"
    return reasons


def profile_of(params: Params) -> str:
    """The profile (laptop, ci, paper) a record was computed under: the ``profile`` field of every record."""
    return params.raw("profile", "unknown")


SettingsT = TypeVar("SettingsT")  # a stage's Settings: what parse_settings returns and compute takes


def run_stage(
    args,
    experiment: str,
    parse_settings: Callable[[Params], SettingsT],
    compute: Callable[[SettingsT, Params, Any], dict[str, Any]],  # file name → JSON document
    record_name: str | None = None,
    headline: Callable[[dict], dict[str, float | None]] | None = None,
    curves: tuple[Curves, ...] = (),
) -> None:
    """The path every experiment stage takes: params.yaml → validated settings (before any work) → a W&B run
    (group = the pipeline run or DVC experiment, job_type = ``record_name`` or the experiment) →
    ``compute(settings, params, tracker)`` → its files, written atomically only after everything succeeded.

    The first file is the stage's detailed record (reports/metrics/<stage>.json); its ``profile`` field is stamped
    here, for every experiment. ``headline(record)`` picks the
    few numbers a reader compares; they go to reports/metrics/headline/<stage>.json (the DVC metrics file: numbers
    only, so ``dvc exp show`` fits a terminal) and to the W&B summary. Each of ``curves`` gets its rows' ``series``
    field and becomes W&B line plots; the files become a W&B artifact and the figures drawn from them images.
    """
    params = load_params(args.params)
    settings = parse_settings(params)
    use_devices(*stage_devices(params))
    out_dir = Path(args.out or "reports/metrics")
    stage = record_name or experiment
    config = {experiment: params.section(experiment).to_dict(), "trainer": params.raw("trainer", {})}
    with stage_run(params, stage=stage, config=config) as tracker:
        files = compute(settings, params, tracker)
        record_name = next(iter(files))
        record = {**cast(dict, files[record_name]), "profile": profile_of(params)}
        files[record_name] = record
        for spec in curves:
            for row in spec.table(files):
                row["series"] = spec.label(row)
            uniform_rows(spec.table(files))
        if headline is not None:
            files[f"headline/{stage}.json"] = headline_numbers(headline(record), stage)
        numbers = cast(dict, files.get(f"headline/{stage}.json") or io.flatten(record))
        tracker.summary(numbers, null_reasons(numbers, record))
        for spec in curves:
            tracker.curves(spec.table(files), spec.x, spec.y, title=stage)
        written = dict(zip(files, io.write_json_files(out_dir, files), strict=True))
        if tracker.active:
            tracker.files(stage, written)
            tracker.images(stage_figures(written))
    say(f"{experiment}: wrote " + ", ".join(str(path) for path in written.values()))


def stage_figures(files: dict[str, Path]) -> list[Path]:
    """The figures drawn from this stage's files, for the W&B run (a figure that cannot be drawn is skipped)."""
    from ..tracking import figure_images

    try:
        return figure_images(files)
    except Exception as err:  # an extra for W&B: the stage's own outputs are already written and stay valid
        say(f"W&B: figures not attached ({type(err).__name__}: {err})")
        return []


# learning-rate sweeps that never end at an edge silently (E8b, E8c, the sparse race's backprop arm) -------------------
LR_EXTENSIONS = 2  # extra lrs at most, one at a time, in the direction of the edge the chosen lr sits on


def lr_beyond_edge(tried: list[float], chosen: float) -> float | None:
    """The next lr past the sweep's edge when ``chosen`` is its smallest or largest value (the same factor as the
    step to its neighbour: lo²/second, hi²/second-highest), else None (the chosen lr is interior, or there is no
    neighbour to take the factor from)."""
    values = sorted(set(tried))
    if len(values) < 2 or values[0] < chosen < values[-1]:
        return None
    edge, neighbour = (values[0], values[1]) if chosen == values[0] else (values[-1], values[-2])
    return float(f"{edge * edge / neighbour:.6g}")


FitT = TypeVar("FitT")  # one result of a sweep's fits (whatever ``train`` returns per fit)


def extended_sweep(
    lrs: list[float],
    train: Callable[[list[float]], list[FitT]],
    best: Callable[[list[FitT]], int],
    lr_of: Callable[[FitT], float],
    extensions: int = LR_EXTENSIONS,
) -> tuple[list[FitT], int, dict]:
    """Run ``train(lrs)`` (one result per lr and whatever else it sweeps, each result's lr by ``lr_of``), pick the
    ``best`` (an index), and while the chosen lr is the smallest or largest tried, train one more lr past that edge
    (:func:`lr_beyond_edge`), up to ``extensions`` times. Returns (every result, the chosen index, {lrs_tried,
    lr_at_edge}): ``lr_at_edge`` is True when the chosen lr still sits on an edge after the extensions (a sweep of one
    lr always: nothing says it is interior)."""
    tried = list(lrs)
    results = list(train(tried))
    chosen = best(results)
    for _ in range(extensions):
        step = lr_beyond_edge(tried, lr_of(results[chosen]))
        if step is None:
            break
        tried.append(step)
        results += train([step])
        chosen = best(results)
    at_edge = len(set(tried)) < 2 or lr_beyond_edge(tried, lr_of(results[chosen])) is not None
    return results, chosen, {"lrs_tried": sorted(set(tried)), "lr_at_edge": at_edge}
