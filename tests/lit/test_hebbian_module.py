"""HebbianModule: rules applied through Lightning with no autograd, epochs, checkpoints, resume, divergence."""

from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint

from hebbdam.data.synthetic import rademacher
from hebbdam.errors import HebbdamError
from hebbdam.lit import HebbianModule, PatternDataModule, build_trainer, store
from hebbdam.memory import DenseAM, Hopfield, Power
from hebbdam.rules import RuleTargetError, get_rule
from hebbdam.rules.dense import feature_energy


def patterns(count=40, dim=30, seed=0):
    return rademacher(count, dim, torch.Generator().manual_seed(seed))


class GradientSpy(pl.Callback):
    """Records, around every batch, whether autograd could have touched the module."""

    def __init__(self):
        self.grad_enabled_in_update: list[bool] = []
        self.violations: list[str] = []

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        if module.stored.requires_grad or module.stored.grad_fn is not None:
            self.violations.append(f"stored tracks gradients at batch {batch_idx}")
        self.violations += [f"{n} holds a gradient" for n, p in module.named_parameters() if p.grad is not None]


@pytest.mark.parametrize("name", ["hebb", "storkey", "delta", "krotov_hopfield", "random_features"])
def test_no_parameter_ever_holds_a_gradient_and_updates_run_without_autograd(name, monkeypatch):
    rule = get_rule(name)
    seen = []
    original = type(rule).step

    def spying_step(self, *args, **kwargs):
        seen.append(torch.is_grad_enabled())
        return original(self, *args, **kwargs)

    monkeypatch.setattr(type(rule), "step", spying_step)
    module = HebbianModule(rule, 30)
    spy = GradientSpy()
    build_trainer(max_epochs=2, callbacks=[spy]).fit(module, datamodule=PatternDataModule(patterns(), batch_size=8))
    assert seen and not any(seen)  # every update ran under no_grad
    assert spy.violations == []
    assert not module.stored.requires_grad


@pytest.mark.parametrize(
    ("name", "epochs", "batch"),
    [("hebb", 1, 7), ("storkey", 1, 5), ("pseudo_inverse", 1, 9), ("dreaming", 1, 11), ("delta", 5, 8), ("oja", 3, 10)],
)
def test_lightning_storage_equals_the_plain_rule(name, epochs, batch):
    x = patterns()
    rule = get_rule(name)
    module = store(x, rule, {"max_epochs": epochs}, batch_size=batch, seed=3)
    expected = rule.fit(x, epochs=epochs, batch_size=batch, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(module.stored, expected)
    assert module.finalized


def test_memory_objects_and_target_errors():
    x = patterns(10, 30)
    assert isinstance(store(x, get_rule("hebb")).memory(), Hopfield)
    assert isinstance(store(x, get_rule("slot"), batch_size=3).memory(Power(3)), DenseAM)
    tensor = store(x, get_rule("tensor4"), batch_size=4).memory()
    torch.testing.assert_close(tensor.memories, x)
    with pytest.raises(RuleTargetError, match="rule storkey .*cannot train DenseAM"):
        store(x, get_rule("storkey"), memory=DenseAM(x, Power(3)))
    features = store(x, get_rule("random_features", features=64, beta=0.05, seed=2))
    states = patterns(5, 30, seed=9)
    expected = feature_energy(features.stored, states, 64, 0.05, 2)  # the rule's own energy of its tensor
    torch.testing.assert_close(features.memory().energy(states), expected, rtol=1e-5, atol=1e-5)


class Crash(pl.Callback):
    """Simulates an interruption: raises when the run reaches ``step``."""

    def __init__(self, step: int):
        self.step = step

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        if trainer.global_step == self.step:
            raise RuntimeError("simulated crash")


@pytest.mark.parametrize("name", ["delta", "krotov_hopfield"])
def test_resume_after_an_interruption_gives_the_uninterrupted_result(name, tmp_path):
    x = patterns(48, 30)
    rule = get_rule(name)

    def data():
        return PatternDataModule(x, batch_size=8, shuffle=True, seed=5)

    full = HebbianModule(rule, 30, seed=1)
    build_trainer(max_epochs=6).fit(full, datamodule=data())

    def checkpoints():
        return ModelCheckpoint(dirpath=tmp_path, save_last=True, save_top_k=-1, every_n_epochs=1)

    crashed = HebbianModule(rule, 30, seed=1)
    with pytest.raises(RuntimeError, match="simulated crash"):
        build_trainer(max_epochs=6, callbacks=[checkpoints(), Crash(step=15)]).fit(
            crashed, datamodule=data()
        )  # 6 batches per epoch: crashes in epoch 2, after the checkpoint of epoch 1
    resumed = HebbianModule(rule, 30, seed=99)  # a different initial state: the checkpoint must win
    build_trainer(max_epochs=6, callbacks=[checkpoints()]).fit(
        resumed, datamodule=data(), ckpt_path=str(tmp_path / "last.ckpt")
    )
    assert torch.equal(resumed.stored, full.stored)


def test_slot_memory_grows_across_a_checkpoint(tmp_path):
    x = patterns(20, 10)
    module = HebbianModule(get_rule("slot"), 10)
    callback = ModelCheckpoint(dirpath=tmp_path, save_last=True)
    build_trainer(max_epochs=1, callbacks=[callback]).fit(module, datamodule=PatternDataModule(x, batch_size=6))
    restored = HebbianModule.load_from_checkpoint(tmp_path / "last.ckpt", rule=get_rule("slot"), dim=10)
    assert torch.equal(restored.stored, x)


def test_a_diverging_learning_rate_names_the_step_and_rule_and_keeps_the_last_good_checkpoint(tmp_path):
    x = patterns(40, 30) * 30.0  # large activity: Oja's rule with lr = 1 blows up within a few epochs
    rule = get_rule("oja", lr=1.0, units=2)
    module = HebbianModule(rule, 30)
    checkpoint = ModelCheckpoint(dirpath=tmp_path, save_last=True, every_n_train_steps=1)
    with pytest.raises(HebbdamError, match=r"rule oja: stored tensor became non-finite at step \d+ .*lr"):
        build_trainer(max_epochs=20, callbacks=[checkpoint]).fit(module, datamodule=PatternDataModule(x, batch_size=40))
    saved = torch.load(tmp_path / "last.ckpt", weights_only=False)
    assert bool(torch.isfinite(saved["state_dict"]["stored"]).all())
    assert bool(torch.isfinite(module.stored).all())  # the bad update was never applied
    assert saved["global_step"] >= 1
