"""What several stages' settings share: the trainer and engine sections, data.root and the binarisation threshold,
a dense arm's separation, the K&H rule's hyper-parameters and the checks of rates and temperatures. No torch: a GPU
count is asked of torch only when the trainer names a GPU accelerator."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import ConfigError, Params
from ..schema import BOOLEAN, POSITIVE, POSITIVE_INT, POWER, Section, choice, number, setting

PRECISIONS = ("32-true", "32", "64-true", "64", "16-mixed", "16-true", "bf16-mixed", "bf16-true")  # Lightning's
STRATEGIES = ("auto", "ddp", "ddp_spawn", "ddp_fork", "single_device")
MAX_DEVICES = 1024  # devices on a GPU machine that composes for itself are checked against what it has
ENGINE_PRECISIONS = ("float32", "tf32", "bfloat16")  # hebbdam.engine: the precision of recall's matmuls
DEFAULT_ENGINE_PRECISION = "float32"


def available_devices(accelerator: str) -> int | None:
    """How many devices of ``accelerator`` this machine has: its cores for cpu, its GPUs for gpu/cuda when it has any
    (None: no GPU here, so a gpu composition is for another machine and only the sanity bound applies)."""
    import os

    if accelerator == "cpu":
        return os.cpu_count() or 1
    if accelerator not in ("gpu", "cuda"):
        return None
    import torch  # only a GPU trainer asks torch: a cpu composition imports no torch

    return torch.cuda.device_count() or None


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


def precision_name(params: Params) -> str:
    """``engine.precision`` from ``params`` (float32 when the section is absent); a ConfigError names the key."""
    if not params.has("engine"):
        return DEFAULT_ENGINE_PRECISION
    return params.section("engine").choice("precision", ENGINE_PRECISIONS)


@dataclass(frozen=True, kw_only=True)
class SeparationSchema:
    """F of a dense arm. The exponential's ``beta`` multiplies the raw overlap ξ·σ (Demircigil: F = exp(ξ·σ), beta
    = 1); DenseAM feeds F the scaled overlap ξ·σ / D, so the separation built here is F(x) = exp(beta · D · x) via
    ``experiments.common.separation_at``. The settings hold this schema; the experiment's ``parse_settings`` builds
    the :class:`hebbdam.memory.Separation` from it (``experiments.common.built``)."""

    kind: str = setting(choice("power", "exponential"))
    n: int = setting(POWER, when=lambda v: v["kind"] == "power")
    rectified: bool = setting(BOOLEAN, False, when=lambda v: v["kind"] == "power")
    beta: float = setting(POSITIVE, when=lambda v: v["kind"] == "exponential")


SEPARATION = Section(SeparationSchema)  # the ``separation`` field of an arm schema


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


@dataclass(frozen=True, kw_only=True)
class KrotovHopfield2016Arm:
    """One K&H 2016 dense classifier trained end to end (E5, E8c): power n, temperature T (β = 1/Tⁿ), loss power 2m."""

    name: str
    n: int = setting(POWER)
    temperature: float = setting(TEMPERATURE)
    m: int = setting(POSITIVE_INT)


def data_root(params: Params) -> str:
    """``data.root``, where prepared data sets live (default ``data``)."""
    return params.section("data").string("root", "data")


def binarize_threshold(params: Params) -> float:
    """``data.binarize_threshold``, the grey level that splits pixels into ±1 (null or absent: 0.5)."""
    data = params.section("data")
    return 0.5 if data.raw("binarize_threshold", None) is None else data.fraction("binarize_threshold")
