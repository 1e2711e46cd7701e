"""What every experiment stage shares: seeding, device choice, trainer options, the stage's files and its W&B run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any, TypeVar

import torch

from .. import io
from ..config import Params, load_params
from ..errors import ConfigError, HebbdamError
from ..gate import flatten
from ..logs import say
from ..memory import Exponential, Power, Separation
from ..parallel import use_devices
from ..schema import BOOLEAN, POSITIVE, POSITIVE_INT, POWER, Section, choice, number, parse, setting
from ..seeds import generator_for  # noqa: F401  (re-exported: experiments seed through common)
from ..tracking import stage_run

PRECISIONS = ("32-true", "32", "64-true", "64", "16-mixed", "16-true", "bf16-mixed", "bf16-true")  # Lightning's
STRATEGIES = ("auto", "ddp", "ddp_spawn", "ddp_fork", "single_device")
MAX_DEVICES = 1024  # devices on a GPU machine that composes for itself are checked against what it has


def available_devices(accelerator: str) -> int | None:
    """How many devices of ``accelerator`` this machine has: its cores for cpu, its GPUs for gpu/cuda when it has any
    (None: no GPU here, so a gpu composition is for another machine and only the sanity bound applies)."""
    import os

    if accelerator == "cpu":
        return os.cpu_count() or 1
    count = torch.cuda.device_count() if accelerator in ("gpu", "cuda") else 0
    return count or None


def trainer_options(params: Params) -> dict:
    """The whole ``trainer`` section, checked key by key, as ``hebbdam.lit.trainer.build_trainer`` takes it."""
    section = params.section("trainer")
    accelerator = section.choice("accelerator", ["cpu", "gpu", "cuda", "auto"])
    devices = section.raw("devices", 1)
    if devices != "auto" and (isinstance(devices, bool) or not isinstance(devices, int) or devices < 1):
        raise ConfigError(section.key("devices"), "a positive number of devices or 'auto'", devices)
    limit = available_devices(accelerator) or MAX_DEVICES
    if devices != "auto" and devices > limit:
        raise ConfigError(section.key("devices"), f"at most {limit} ({accelerator} devices this machine has)", devices)
    section.choice("strategy", list(STRATEGIES), "auto")
    precision = section.raw("precision", "32-true")
    if isinstance(precision, bool) or str(precision) not in PRECISIONS:
        raise ConfigError(section.key("precision"), "a Lightning precision: " + ", ".join(PRECISIONS), precision)
    if section.raw("max_epochs", None) is not None:
        section.positive_int("max_epochs")
    section.choice("deterministic", [False, True, "warn"], False)
    section.choice("enable_progress_bar", [False, True], False)
    section.positive_int("log_every_n_steps", 50)
    if section.has("checkpoint"):
        checkpoint = section.section("checkpoint")
        folder = checkpoint.raw("dir", None)
        if folder is not None and (not isinstance(folder, str) or not folder):
            raise ConfigError(checkpoint.key("dir"), "null or a folder for checkpoints", folder)
        checkpoint.positive_int("every_n_epochs", 1)
        checkpoint.choice("resume", [False, True], False)
    return section.to_dict()


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


@dataclass(frozen=True, kw_only=True)
class SeparationSchema:
    """F of a dense arm. The exponential's ``beta`` multiplies the raw overlap ξ·σ (Demircigil: F = exp(ξ·σ), beta
    = 1); DenseAM feeds F the scaled overlap ξ·σ / D, so the separation built here is F(x) = exp(beta · D · x) via
    :func:`separation_at`."""

    kind: str = setting(choice("power", "exponential"))
    n: int = setting(POWER, when=lambda v: v["kind"] == "power")
    rectified: bool = setting(BOOLEAN, False, when=lambda v: v["kind"] == "power")
    beta: float = setting(POSITIVE, when=lambda v: v["kind"] == "exponential")

    def checked(self, section: Params) -> Separation:
        return Power(self.n, rectified=self.rectified) if self.kind == "power" else Exponential(self.beta)


SEPARATION = Section(SeparationSchema)  # the ``separation`` field of an arm schema


def parse_separation(section: Params) -> Separation:
    return parse(SeparationSchema, section)


LEARNING_RATE = number("a learning rate > 0", lambda v: v > 0)
TEMPERATURE = number("a temperature > 0", lambda v: v > 0)
ANNEAL = number("a factor in (0, 1]", lambda v: 0 < v <= 1)
MOMENTUM = number("a momentum in [0, 1)", lambda v: 0 <= v < 1)
OPEN_FRACTION = number("a fraction in (0, 1)", lambda v: 0 < v < 1)


@dataclass(frozen=True, kw_only=True)
class KrotovHopfieldRule:
    """The hyper-parameters of the K&H 2019 competing-hidden-units rule (``rules.hidden``): Lebesgue power p, the
    rank of the unit pushed away, its anti-Hebbian strength and the learning rate."""

    p: float = setting(number("a Lebesgue power ≥ 2", lambda v: v >= 2))
    rank: int = setting(POSITIVE_INT)
    anti: float = setting(number("a number ≥ 0", lambda v: v >= 0))
    lr: float = setting(LEARNING_RATE)

    @property
    def hyper(self) -> dict:
        """The keyword arguments of ``get_rule("krotov_hopfield", units=K, **hyper)``."""
        return {"p": self.p, "rank": self.rank, "anti": self.anti, "lr": self.lr}


def data_root(params: Params) -> str:
    """``data.root``, where prepared data sets live (default ``data``)."""
    return params.section("data").string("root", "data")


def binarize_threshold(params: Params) -> float:
    """``data.binarize_threshold``, the grey level that splits pixels into ±1 (null or absent: 0.5)."""
    data = params.section("data")
    return 0.5 if data.raw("binarize_threshold", None) is None else data.fraction("binarize_threshold")


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
        content = files[self.file]
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
    """Numeric leaves of ``record`` whose dotted key matches one of the ``fnmatch`` ``patterns``, in record order."""
    return {key: value for key, value in flatten(record).items() if any(fnmatch(key, p) for p in patterns)}


def headline_numbers(headline: dict, stage: str) -> dict[str, float | None]:
    """Check that a headline holds numbers (or null) only: it is what ``dvc metrics show`` / ``dvc exp show`` print.
    A leading ``arms.`` is dropped from the keys (short columns: "one_shot.best_test_error")."""
    numbers = {}
    for key, value in headline.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise HebbdamError(f"{stage}: headline value {key!r} is {value!r}; a headline holds numbers only")
        numbers[key.removeprefix("arms.")] = value
    return numbers


def profile_of(params: Params) -> str:
    """The profile (laptop, ci, paper) a record was computed under: the ``profile`` field of every record."""
    return params.raw("profile", "unknown")


SettingsT = TypeVar("SettingsT")  # a stage's Settings: what parse_settings returns and compute takes


def run_stage(
    args,
    experiment: str,
    parse_settings: Callable[[Params], SettingsT],
    compute: Callable[[SettingsT, Params, Any], dict[str, object]],
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
        files[record_name] = record = {**files[record_name], "profile": profile_of(params)}
        for spec in curves:
            for row in spec.table(files):
                row["series"] = spec.label(row)
            uniform_rows(spec.table(files))
        if headline is not None:
            files[f"headline/{stage}.json"] = headline_numbers(headline(record), stage)
        tracker.summary(files.get(f"headline/{stage}.json") or flatten(record))
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


# learning-rate sweeps that never end at an edge silently (E8b, E8c) ----------------------------------------------
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


def extended_sweep(
    lrs: list[float],
    train: Callable[[list[float]], list],
    best: Callable[[list], int],
    lr_of: Callable[[object], float],
    extensions: int = LR_EXTENSIONS,
) -> tuple[list, int, dict]:
    """Run ``train(lrs)`` (one result per lr and whatever else it sweeps, each result's lr by ``lr_of``), pick the
    ``best`` (an index), and while the chosen lr is the smallest or largest tried, train one more lr past that edge
    (:func:`lr_beyond_edge`), up to ``extensions`` times. Returns (every result, the chosen index, {lrs_tried,
    lr_at_edge}): ``lr_at_edge`` is True when the chosen lr still sits on an edge after the extensions."""
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
    at_edge = lr_beyond_edge(tried, lr_of(results[chosen])) is not None
    return results, chosen, {"lrs_tried": sorted(set(tried)), "lr_at_edge": at_edge}
