"""The one place a ``pl.Trainer`` is built: the ``trainer`` config section reaches it whole.

``build_trainer(section, logger=..., **stage_overrides)`` is what every stage that stores or trains calls (through
``lit.store`` for Hebbian writes, directly for backprop). The section (conf/trainer/*.yaml) holds

- accelerator, devices, precision, deterministic, enable_progress_bar, log_every_n_steps: passed as they are;
- strategy: ``auto`` runs every fit on one device; with ``devices`` > 1 the stage spreads its fits over that many
  stage-long workers, one device each (:mod:`hebbdam.parallel`), so a record is byte-identical to one device's;
  ``ddp`` / ``ddp_spawn`` / ``ddp_fork`` split one fit over the devices instead (:class:`MemoryDDPStrategy`, spawned
  ranks, for a single fit too big for one device); any other name passes through;
- max_epochs: used when the stage does not set its own (a one-shot Hebbian write is always one pass);
- checkpoint: {dir, every_n_epochs, resume}: with a ``dir``, each named fit saves ``<dir>/<name>/last.ckpt``, and with
  ``resume: true`` a fit whose ``last.ckpt`` exists starts from it (a finished fit then returns at once with its
  trained weights, an interrupted one goes on where it stopped). Beside it, ``fit.json`` holds the fit's key (hashes
  of its config, data, rule and seed, :func:`fit_key`): a checkpoint written by a fit with another key is not resumed
  (the fit starts fresh and says so in one line).

The DataModules shard the rows themselves (contiguous rows per rank, so Hebbian sums and appended slots match one
process), so Lightning's distributed sampler is off.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Literal

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback, ModelCheckpoint
from pytorch_lightning.strategies import DDPStrategy

from .. import io
from ..errors import ConfigError
from ..logs import say

PASSED_THROUGH = ("accelerator", "devices", "precision", "deterministic", "enable_progress_bar", "log_every_n_steps")
DDP_START_METHODS: dict[str, Literal["popen", "spawn", "fork"]] = {
    "ddp": "popen",
    "ddp_spawn": "spawn",
    "ddp_fork": "fork",
}
KNOWN_KEYS = {*PASSED_THROUGH, "strategy", "max_epochs", "checkpoint"}


class MemoryDDPStrategy(DDPStrategy):
    """DDP that leaves a module without trainable parameters unwrapped.

    A Hebbian module has no gradients to average (it all-reduces its own writes at the end of the fit), and
    ``DistributedDataParallel`` refuses such a module; a backprop module is wrapped as usual.
    """

    def _setup_model(self, model):
        if not any(param.requires_grad for param in model.parameters()):
            return model
        return super()._setup_model(model)


class KeepInterrupt(Callback):
    """Ctrl-C (or SIGTERM, which ``hebbdam`` turns into KeyboardInterrupt) inside a fit stays a KeyboardInterrupt.

    Lightning catches the interrupt, tears down, and calls ``sys.exit(1)``: the stage would exit 1 without the
    "interrupted; no output … written" line. Re-raised from the ``on_exception`` hook (which Lightning calls inside its
    handler), the interrupt reaches the command's own handler instead."""

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        if isinstance(exception, KeyboardInterrupt):
            import signal

            signal.signal(signal.SIGINT, signal.default_int_handler)  # Lightning set SIG_IGN for its shutdown
            raise exception


def device_count(devices: object) -> int:
    """How many processes ``devices`` asks for (an int, a list of ids, "1", or "auto"/-1 = all visible)."""
    if isinstance(devices, (list, tuple)):
        return len(devices)
    if isinstance(devices, str) and devices.strip().lstrip("-").isdigit():
        devices = int(devices)
    if isinstance(devices, int) and devices >= 0:
        return devices
    return 2  # "auto" / -1: possibly several, so the distributed strategy (it also runs on one device)


def choose_strategy(strategy: object, devices: object):
    """``auto`` → one process on one device (several devices are used by the stage's workers, one fit per device);
    ddp names → :class:`MemoryDDPStrategy` with their start method (one fit split over the devices); anything else
    passes through."""
    if strategy in (None, "auto"):
        return "auto"
    if isinstance(strategy, str) and strategy in DDP_START_METHODS:
        return MemoryDDPStrategy(start_method=DDP_START_METHODS[strategy])
    return strategy


def one_device(accelerator: str) -> int | list[int]:
    """The device of a fit under strategy ``auto``: this process's own GPU (a stage worker is pinned to one by
    :mod:`hebbdam.parallel`), else 1 (one CPU process)."""
    if accelerator in ("gpu", "cuda") and torch.cuda.is_available():
        return [torch.cuda.current_device()]
    return 1


def fit_folder(name: str) -> str:
    """A fit name ("classification/backprop_n3/K100/seed0") as a relative folder with safe characters."""
    return "/".join(re.sub(r"[^A-Za-z0-9_.=-]+", "_", part) for part in name.split("/") if part not in ("", ".", ".."))


def checkpointing(section: dict, name: str | None) -> tuple[list[Callback], str | None]:
    """The checkpoint callback and the path to resume from for the fit ``name`` (none without a checkpoint dir)."""
    options = section.get("checkpoint") or {}
    if not isinstance(options, dict):
        raise ConfigError("trainer.checkpoint", "a mapping {dir, every_n_epochs, resume}", options)
    unknown = set(options) - {"dir", "every_n_epochs", "resume"}
    if unknown:
        raise ConfigError(f"trainer.checkpoint.{sorted(unknown)[0]}", "one of dir, every_n_epochs, resume", options)
    if not options.get("dir") or name is None:
        return [], None
    folder = Path(options["dir"]) / fit_folder(name)
    every = options.get("every_n_epochs", 1)
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ConfigError("trainer.checkpoint.every_n_epochs", "an integer ≥ 1", every)
    callback = ModelCheckpoint(dirpath=folder, save_last=True, every_n_epochs=every)  # last.ckpt + the latest epoch
    last = folder / "last.ckpt"
    resume = str(last) if options.get("resume") and last.exists() else None
    return [callback], resume


def checked(section: dict | None) -> dict:
    """A copy of the ``trainer`` section; a key it does not know is a one-line ConfigError."""
    section = dict(section or {})
    unknown = set(section) - KNOWN_KEYS
    if unknown:
        raise ConfigError(f"trainer.{sorted(unknown)[0]}", "one of " + ", ".join(sorted(KNOWN_KEYS)), section)
    return section


def build_trainer(
    section: dict | None = None,
    *,
    logger="auto",
    name: str | None = None,
    callbacks: list[Callback] | None = None,
    **overrides,
) -> pl.Trainer:
    """A ``pl.Trainer`` from the ``trainer`` section, a logger and the stage's own options.

    ``logger``: "auto" = a ``WandbLogger`` on the stage's open W&B run (one process only; none without a run),
    False = none, or a Lightning logger.

    ``name`` labels the fit for checkpoints (``<checkpoint.dir>/<name>/``); call :func:`resume_path` for the path to
    pass to ``fit``. ``overrides`` (e.g. ``max_epochs``) win over the section; ``max_epochs`` falls back to the
    section's, then to one pass.
    """
    section = checked(section)
    options = {key: section[key] for key in PASSED_THROUGH if section.get(key) is not None}
    options.setdefault("accelerator", "cpu")
    options.setdefault("devices", 1)
    options.setdefault("enable_progress_bar", False)
    if section.get("strategy", "auto") in (None, "auto"):
        options["devices"] = one_device(options["accelerator"])
    checkpoint_callbacks, _ = checkpointing(section, name)
    if logger == "auto":
        from ..tracking import lightning_logger

        logger = False if device_count(options["devices"]) > 1 else lightning_logger(name)
    options.update(
        strategy=choose_strategy(section.get("strategy", "auto"), options["devices"]),
        max_epochs=section.get("max_epochs") or 1,
        logger=logger,
        callbacks=[*checkpoint_callbacks, *(callbacks or []), KeepInterrupt()],
        enable_checkpointing=bool(checkpoint_callbacks),
        enable_model_summary=False,
        num_sanity_val_steps=0,
        use_distributed_sampler=False,
    )
    options.update(overrides)
    if isinstance(options.get("strategy"), str):
        options["strategy"] = choose_strategy(options["strategy"], options["devices"])
    if options.get("callbacks") and any(isinstance(c, ModelCheckpoint) for c in options["callbacks"]):
        options["enable_checkpointing"] = True
    return pl.Trainer(**options)


def fit(
    module: pl.LightningModule, datamodule: pl.LightningDataModule, section: dict | None, *, name=None, **overrides
):
    """Build the trainer (:func:`build_trainer`), resume the fit ``name`` from its checkpoint if asked (and if it was
    written by the same fit: :func:`fit_key`), and fit."""
    trainer = build_trainer(section, name=name, **overrides)
    trainer.fit(module, datamodule=datamodule, ckpt_path=resume_path(section, name, module, datamodule, overrides))
    return trainer


def _digest(parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=repr).encode()).hexdigest()[:16]


def _tensor_digest(tensors: list[torch.Tensor]) -> str:
    h = hashlib.sha256()
    for tensor in tensors:
        t = tensor.detach().cpu().contiguous()
        h.update(f"{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:16]


def _settings(obj: object) -> dict:
    """The plain settings of an object (public numbers, strings, booleans, None, and tuples/lists of them)."""
    plain = (int, float, str, bool, type(None))
    return {
        k: v
        for k, v in sorted(vars(obj).items())
        if not k.startswith("_")
        and (isinstance(v, plain) or isinstance(v, list | tuple) and all(isinstance(x, plain) for x in v))
    }


def fit_key(module, datamodule, section: dict | None, overrides: dict | None = None) -> dict[str, str]:
    """What defines a fit, as hashes: ``config`` (the module's settings and hyper-parameters, the trainer section
    without its checkpoint options, the stage's overrides), ``data`` (every tensor of the datamodule and its
    settings), ``rule`` (the module's rule or objective, with its hyper-parameters) and ``seed`` (the module's seed
    and its initial weights, which the seed draws)."""
    trainer = {k: v for k, v in (section or {}).items() if k != "checkpoint"}
    hparams = dict(getattr(module, "hparams", {}) or {})
    rule = getattr(module, "rule", None) or getattr(module, "objective", None)
    rule_text = repr(getattr(rule, "name", rule)) + repr(getattr(rule, "hyper", None))
    data_tensors = [v for _, v in sorted(vars(datamodule).items()) if isinstance(v, torch.Tensor)]
    return {
        "config": _digest([type(module).__name__, _settings(module), hparams, trainer, overrides or {}]),
        "data": _digest([type(datamodule).__name__, _settings(datamodule), _tensor_digest(data_tensors)]),
        "rule": _digest([rule_text, getattr(module, "rule_name", None)]),
        "seed": _digest([getattr(module, "seed", None), _tensor_digest(list(module.state_dict().values()))]),
    }


def resume_path(
    section: dict | None, name: str | None, module=None, datamodule=None, overrides: dict | None = None
) -> str | None:
    """The ``last.ckpt`` the fit ``name`` resumes from, when ``trainer.checkpoint.resume`` is on, it exists, and its
    ``fit.json`` holds this fit's key (:func:`fit_key`; a mismatch removes the stale checkpoints and starts fresh).
    With ``module`` and ``datamodule`` (every caller in the stages), the key is written for the next run."""
    section = dict(section or {})
    path = checkpointing(section, name)[1]
    options = section.get("checkpoint") or {}
    if not options.get("dir") or name is None or module is None:
        return path
    folder = Path(options["dir"]) / fit_folder(name)
    key, record = fit_key(module, datamodule, section, overrides), folder / "fit.json"
    if path is not None:
        stored = io.read_json_object(record) if record.is_file() else {}
        differing = [part for part in key if stored.get(part) != key[part]]
        if differing:
            say(
                f"checkpoint {path} was written by another fit ({', '.join(differing)} differ"
                f"{'' if stored else ': no fit.json'}); not resumed, starting fresh"
            )
            for stale in folder.glob("*.ckpt"):
                stale.unlink()
            path = None
    io.write_json(record, key)
    return path


def multi_process(section: dict | None) -> bool:
    """Whether the section asks for several processes (devices > 1)."""
    return device_count((section or {}).get("devices", 1)) > 1
