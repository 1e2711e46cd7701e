"""One Trainer configuration: the ``trainer`` section reaches pl.Trainer whole, several devices spread a stage's fits
(or, by name, DDP splits one fit), checkpoints and resume come from config, and a real stage command on two CPU
devices writes exactly the one-device record."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from pytorch_lightning.callbacks import Callback

from hebbdam.data.synthetic import rademacher
from hebbdam.errors import ConfigError
from hebbdam.lit import build_trainer, store
from hebbdam.lit.trainer import MemoryDDPStrategy
from hebbdam.rules import get_rule

from ..conftest import TINY_CAPACITY, compose_file
from .test_ddp import REASON

SECTION = {
    "accelerator": "cpu",
    "devices": 1,
    "strategy": "auto",
    "precision": "64-true",
    "max_epochs": 7,
    "deterministic": False,
    "enable_progress_bar": False,
    "log_every_n_steps": 3,
    "checkpoint": {"dir": None, "every_n_epochs": 1, "resume": False},
}


def test_the_whole_section_reaches_the_trainer():
    try:
        trainer = build_trainer({**SECTION, "deterministic": True})
        assert torch.are_deterministic_algorithms_enabled()  # deterministic: true reached the Trainer
    finally:
        torch.use_deterministic_algorithms(False)
    assert trainer.max_epochs == 7 and trainer.log_every_n_steps == 3 and trainer.precision == "64-true"
    assert trainer.progress_bar_callback is None and trainer.logger is None
    assert build_trainer(SECTION, max_epochs=2).max_epochs == 2  # the stage's own setting wins
    assert build_trainer({**SECTION, "max_epochs": None}).max_epochs == 1  # none set: one pass


def test_several_devices_run_each_fit_on_one_and_ddp_is_asked_for_by_name():
    """Under strategy auto a fit runs on one device (the stage spreads its fits over the devices); a ddp name splits
    one fit over them (MemoryDDPStrategy, with that start method)."""
    spread = build_trainer({**SECTION, "devices": 2})
    assert not isinstance(spread.strategy, MemoryDDPStrategy) and spread.num_devices == 1
    assert build_trainer({**SECTION, "devices": 2, "strategy": "ddp_spawn"}).strategy._start_method == "spawn"
    assert build_trainer({**SECTION, "devices": 2, "strategy": "ddp_fork"}).strategy._start_method == "fork"
    assert not isinstance(build_trainer(SECTION).strategy, MemoryDDPStrategy)
    with pytest.raises(ConfigError, match="trainer.max_epoch"):
        build_trainer({**SECTION, "max_epoch": 3})


class Crash(RuntimeError):
    pass


class CrashAt(Callback):
    """Fails the fit once ``step`` batches have been written."""

    def __init__(self, step: int):
        self.step = step

    def on_train_batch_end(self, trainer, *args):
        if trainer.global_step == self.step:
            raise Crash(f"stopped at step {self.step}")


def test_checkpoint_and_resume_come_from_config(tmp_path, one_thread):
    """An interrupted fit rerun with checkpoint.resume ends exactly where an uninterrupted one ends; a finished fit
    is restored, not retrained."""
    x = rademacher(48, 30, torch.Generator().manual_seed(1))
    rule = get_rule("krotov_hopfield")  # iterative, from a random initial state: a rerun from scratch differs
    section = {**SECTION, "precision": "32-true", "checkpoint": {"dir": str(tmp_path), "resume": True}}
    full = store(x, rule, {**SECTION, "precision": "32-true"}, batch_size=8, max_epochs=6)
    with pytest.raises(Crash):
        store(x, rule, section, batch_size=8, name="kh/D30", max_epochs=6, callbacks=[CrashAt(step=15)])
    assert (tmp_path / "kh" / "D30" / "last.ckpt").exists()  # saved after epochs 1 and 2 (6 batches each)
    resumed = store(x, rule, section, batch_size=8, name="kh/D30", max_epochs=6)
    torch.testing.assert_close(resumed.stored, full.stored, rtol=0, atol=0)
    finished = (tmp_path / "kh" / "D30" / "last.ckpt").stat().st_mtime_ns
    again = store(x, rule, section, batch_size=8, name="kh/D30", max_epochs=6)
    torch.testing.assert_close(again.stored, full.stored, rtol=0, atol=0)
    assert (tmp_path / "kh" / "D30" / "last.ckpt").stat().st_mtime_ns == finished  # nothing retrained


def test_a_checkpoint_of_another_fit_is_not_resumed(tmp_path, one_thread, capsys):
    """A rerun of the fit name with another seed, other patterns or another rule setting starts fresh, says so in
    one line, and ends where a fit from scratch with its own settings ends (not with the first run's weights)."""
    x = rademacher(48, 30, torch.Generator().manual_seed(1))
    other = rademacher(48, 30, torch.Generator().manual_seed(2))
    rule = get_rule("krotov_hopfield")
    section = {**SECTION, "precision": "32-true", "checkpoint": {"dir": str(tmp_path), "resume": True}}
    plain = {**SECTION, "precision": "32-true"}
    store(x, rule, section, batch_size=8, name="kh/D30", max_epochs=2)
    capsys.readouterr()
    for patterns, seed, changed in ((x, 5, "seed"), (other, 5, "data")):
        rerun = store(patterns, rule, section, batch_size=8, seed=seed, name="kh/D30", max_epochs=2)
        fresh = store(patterns, rule, plain, batch_size=8, seed=seed, max_epochs=2)
        torch.testing.assert_close(rerun.stored, fresh.stored, rtol=0, atol=0)
        lines = [line for line in capsys.readouterr().err.splitlines() if "not resumed" in line]
        assert len(lines) == 1 and changed in lines[0] and "starting fresh" in lines[0], lines
    faster = get_rule("krotov_hopfield", lr=0.4)  # another learning rate: the rule's key changes
    store(other, faster, section, batch_size=8, seed=5, name="kh/D30", max_epochs=2)
    (line,) = [line for line in capsys.readouterr().err.splitlines() if "not resumed" in line]
    assert "rule" in line, line


def stage_command(params: Path, out: Path, workers: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1"}
    env.pop("MASTER_PORT", None)
    env.pop("HEBBDAM_WORKERS", None)
    if workers is not None:
        env["HEBBDAM_WORKERS"] = workers
    command = [str(Path(sys.executable).parent / "hebbdam"), "capacity", "--params", str(params), "--out", str(out)]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_the_ci_capacity_stage_on_two_devices_writes_the_one_device_record(tmp_path):
    """The whole ci capacity stage (every arm, D and load of its grid) with trainer.devices=2 (two stage-long CPU
    worker processes, one fit per device) writes the record, curves and headline of one device in one process,
    byte for byte."""
    one = compose_file(tmp_path / "one.yaml", ["profile=ci"])
    two = compose_file(tmp_path / "two.yaml", ["profile=ci", "trainer.devices=2"])
    for params, out, workers in ((one, tmp_path / "one", "1"), (two, tmp_path / "two", None)):
        done = stage_command(params, out, workers)
        assert done.returncode == 0, done.stderr[-2000:]
    for name in ("capacity.json", "capacity_curves.json", "headline/capacity.json"):
        assert (tmp_path / "two" / name).read_bytes() == (tmp_path / "one" / name).read_bytes(), name


@pytest.mark.skipif(REASON is not None, reason=REASON or "")
@pytest.mark.slow
def test_capacity_command_with_one_fit_split_over_two_processes_writes_the_one_process_record(tmp_path):
    tiny = [  # a sum rule on one pattern (one rank gets no rows) and an appending rule (slots gathered in order)
        *TINY_CAPACITY,
        "capacity.trials=1",
        "~capacity.arms.hebb_sync",
        "capacity.arms.hebb_async.loads=[0.05]",
        "capacity.arms.dam3_async.loads=[4.0]",
    ]
    one = compose_file(tmp_path / "one.yaml", tiny)
    two = compose_file(tmp_path / "two.yaml", [*tiny, "trainer.devices=2", "trainer.strategy=ddp_spawn"])
    for params, out in ((one, tmp_path / "one"), (two, tmp_path / "two")):
        done = stage_command(params, out, "1")
        assert done.returncode == 0, done.stderr[-2000:]
    for name in ("capacity.json", "capacity_curves.json", "headline/capacity.json"):
        assert (tmp_path / "two" / name).read_bytes() == (tmp_path / "one" / name).read_bytes(), name


class CtrlC(Callback):
    """Ctrl-C at the third written batch."""

    def on_train_batch_end(self, trainer, *args):
        if trainer.global_step == 3:
            raise KeyboardInterrupt


def test_ctrl_c_inside_a_fit_stays_a_keyboard_interrupt(one_thread):
    """Lightning turns Ctrl-C into sys.exit(1); the stage's own handler (the one "interrupted" line, exit 130) must see
    the KeyboardInterrupt instead."""
    x = rademacher(48, 30, torch.Generator().manual_seed(1))
    with pytest.raises(KeyboardInterrupt):
        store(x, get_rule("krotov_hopfield"), SECTION, batch_size=8, max_epochs=2, callbacks=[CtrlC()])
