"""BackpropModule: denoising and the Krotov & Hopfield 2016 classifier on the same memory objects."""

from __future__ import annotations

import copy

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.loggers import CSVLogger

from hebbdam.data.synthetic import rademacher
from hebbdam.errors import HebbdamError
from hebbdam.experiments.validate_rules import retrieval
from hebbdam.lit import PatternDataModule, build_trainer
from hebbdam.lit.backprop import (
    BackpropModule,
    Denoising,
    FeatureMap,
    MemoryMatrix,
    NormalisedMomentum,
    PairwiseWeights,
    digits_classifier,
)
from hebbdam.memory import Exponential, Hopfield, Power
from hebbdam.rules import get_rule

pytestmark = pytest.mark.usefixtures("one_thread")  # small tensors: one thread is faster and steadier


def patterns(count=30, dim=100, seed=0):
    return rademacher(count, dim, torch.Generator().manual_seed(seed))


def test_denoising_backprop_beats_hebb_above_its_capacity(tmp_path):
    x = patterns()  # α = 0.3: Hebb no longer retrieves
    module = BackpropModule(PairwiseWeights(100, init_std=0.01), Denoising(steps=3, flip=0.1), lr=0.01)
    logger = CSVLogger(tmp_path)
    build_trainer(max_epochs=60, logger=logger).fit(module, datamodule=PatternDataModule(x, 10, shuffle=True))
    exported = module.memory.export()
    assert isinstance(exported, Hopfield)
    torch.testing.assert_close(exported.weights, exported.weights.T)
    trained = float(retrieval(exported.weights, x, torch.Generator().manual_seed(1)).mean())
    hebb = float(retrieval(get_rule("hebb").fit(x), x, torch.Generator().manual_seed(1)).mean())
    assert trained > hebb + 0.2
    assert "train/loss_epoch" in (tmp_path / "lightning_logs" / "version_0" / "metrics.csv").read_text()


@pytest.mark.parametrize(
    ("memory", "dim"),
    [(MemoryMatrix(30, 100, Power(3)), 100), (FeatureMap(20, features=512, beta=0.1), 20)],
    ids=["slots", "features"],
)
def test_denoising_trains_dam_memories_and_feature_maps(memory, dim):
    x = patterns(30 if dim == 100 else 6, dim)
    if isinstance(memory, FeatureMap):
        memory.write(x)  # start from the Hebbian (additive) write, then fine-tune by gradient
    module = BackpropModule(memory, Denoising(steps=2, flip=0.1), lr=0.02)
    generator = torch.Generator().manual_seed(4)
    before = float(module.objective.loss(memory, (x,), generator)[0])
    build_trainer(max_epochs=15).fit(module, datamodule=PatternDataModule(x, 10, shuffle=True))
    after = float(module.objective.loss(memory, (x,), torch.Generator().manual_seed(4))[0])
    assert after < 0.8 * before


def test_the_exponential_recall_field_is_the_gradient_up_to_a_positive_factor_and_finite_past_float32():
    memory = MemoryMatrix(8, 64, Exponential(beta=64.0), init_std=0.1, seed=3)
    states = patterns(5, 64, seed=1)
    exact = copy.deepcopy(memory).double().field(states.double())  # the autograd field, in float64
    direction = memory.field_direction(states)
    unit = torch.nn.functional.normalize
    torch.testing.assert_close(unit(direction.double(), dim=-1), unit(exact, dim=-1), rtol=0, atol=1e-6)
    with torch.no_grad():
        memory.memories.mul_(0.0).add_(2.0 * states[:1])  # overlap 2: e^{64·2} overflows float32
    assert not bool(torch.isfinite(memory.field(states)).all())
    loss, _ = Denoising(steps=3, flip=0.1).loss(memory, (states,), torch.Generator().manual_seed(0))
    loss.backward()
    assert bool(torch.isfinite(loss)) and bool(torch.isfinite(memory.memories.grad).all())


def test_normalised_momentum_steps_each_memory_by_its_largest_gradient_and_clips():
    param = torch.nn.Parameter(torch.tensor([[0.5, 0.0], [0.99, -0.2]]))
    optimizer = NormalisedMomentum([param], lr=0.1, momentum=0.5)
    param.grad = torch.tensor([[-4.0, 2.0], [-0.001, 0.0]])
    optimizer.step()
    torch.testing.assert_close(param.data, torch.tensor([[0.6, -0.05], [1.0, -0.2]]))


def test_resume_after_an_interruption_is_bit_for_bit(tmp_path):
    x = patterns(40, 50)

    def module():
        return BackpropModule(MemoryMatrix(20, 50, Power(3), seed=2), Denoising(steps=2, flip=0.1), lr=0.01, seed=7)

    def data():
        return PatternDataModule(x, 8, shuffle=True, seed=3)

    full = module()
    build_trainer(max_epochs=5).fit(full, datamodule=data())

    class Crash(pl.Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            if trainer.global_step == 13:  # 5 batches per epoch: mid-epoch 2, after the epoch-1 checkpoint
                raise RuntimeError("simulated crash")

    def checkpoints():
        return ModelCheckpoint(dirpath=tmp_path, save_last=True, every_n_epochs=1)

    crashed = module()
    with pytest.raises(RuntimeError, match="simulated crash"):
        build_trainer(max_epochs=5, callbacks=[checkpoints(), Crash()]).fit(crashed, datamodule=data())
    resumed = module()
    trainer = build_trainer(max_epochs=5, callbacks=[checkpoints()])
    trainer.fit(resumed, datamodule=data(), ckpt_path=str(tmp_path / "last.ckpt"))
    assert torch.equal(resumed.memory.memories, full.memory.memories)
    assert not torch.equal(crashed.memory.memories, full.memory.memories)


def test_a_diverging_learning_rate_names_the_step_and_keeps_the_last_good_checkpoint(tmp_path):
    x = patterns(20, 30)
    module = BackpropModule(PairwiseWeights(30, init_std=0.1), Denoising(steps=2), lr=1e-3, optimizer="sgd")

    class Boost(pl.Callback):  # a sane rate for two steps (good checkpoints), then one that overflows
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            if trainer.global_step == 2:
                for group in trainer.optimizers[0].param_groups:
                    group["lr"] = 1e38

    checkpoint = ModelCheckpoint(dirpath=tmp_path, save_last=True, every_n_train_steps=1)
    with pytest.raises(HebbdamError, match=r"rule backprop/denoise: parameter 'raw' became non-finite at step \d"):
        build_trainer(max_epochs=3, callbacks=[checkpoint, Boost()]).fit(module, datamodule=PatternDataModule(x, 5))
    saved = torch.load(tmp_path / "last.ckpt", weights_only=False)  # written by the steps before the divergence
    assert saved["global_step"] >= 1
    assert all(bool(torch.isfinite(v).all()) for v in saved["state_dict"].values())


def test_wandb_logger_in_disabled_mode(monkeypatch, tmp_path):
    pytest.importorskip("wandb")
    from pytorch_lightning.loggers import WandbLogger

    monkeypatch.setenv("WANDB_MODE", "disabled")
    module = BackpropModule(PairwiseWeights(20, init_std=0.01), Denoising(steps=1), lr=0.01)
    logger = WandbLogger(project="hebbdam-test", save_dir=str(tmp_path), mode="disabled")
    build_trainer(max_epochs=1, logger=logger).fit(module, datamodule=PatternDataModule(patterns(10, 20), 5))
    assert "train/loss_epoch" in module.trainer.callback_metrics


@pytest.mark.slow
def test_krotov_hopfield_2016_classifier_on_digits():
    module, result = digits_classifier(epochs=40)
    assert result["test_accuracy"] >= 0.95, result
    assert float(module.memory.memories.abs().max()) <= 1.0  # clipped to [-1, 1]


def test_score_matching_moves_the_softmax_memory_onto_its_few_training_points(one_thread):
    """With few points and a small σ_min the optimal denoiser memorises: training (Lightning, Adam) pulls rows of θ
    from the data's mean onto every training point (generalisation's backprop arm)."""
    from hebbdam.lit import fit
    from hebbdam.lit.backprop import ScoreMatching, SoftmaxDenoiser
    from hebbdam.lit.data import ResampledDataModule

    generator = torch.Generator().manual_seed(0)
    points = torch.rand(4, 6, generator=generator) * 4  # (K, D): four points, far apart
    start = points.mean(0, keepdim=True) + 0.1 * torch.randn(8, 6, generator=generator)
    module = BackpropModule(SoftmaxDenoiser(start), ScoreMatching(0.05, 2.0), lr=0.05, seed=0)

    def nearest_row(theta):
        return torch.cdist(points, theta).min(1).values  # (K,) distance from each point to its closest row

    before = nearest_row(module.memory.theta.detach())
    fit(module, ResampledDataModule(points, 32, 400, seed=0), None, max_epochs=1)
    after = nearest_row(module.memory.theta.detach())
    assert module.trainer.global_step == 400
    assert bool((after < 0.2 * before).all()), (before, after)


def test_cpu_adam_is_adam_bit_for_bit_without_the_per_step_accelerator_query(monkeypatch):
    from torch.optim.optimizer import Optimizer

    from hebbdam.lit.backprop import CpuAdam

    queries = []
    original = Optimizer._accelerator_graph_capture_health_check
    monkeypatch.setattr(Optimizer, "_accelerator_graph_capture_health_check", lambda self: queries.append(self))
    target = torch.randn(6, 5, generator=torch.Generator().manual_seed(1))
    trained = []
    for kind in (torch.optim.Adam, CpuAdam):
        weights = torch.zeros(6, 5, requires_grad=True)
        optimizer = kind([weights], lr=0.05)
        for _ in range(30):
            optimizer.zero_grad()
            (weights - target).pow(3).abs().sum().backward()
            optimizer.step()
        trained.append(weights.detach())
    assert torch.equal(trained[0], trained[1])
    assert len(queries) == 30  # Adam's 30 queries; CpuAdam asked none with every parameter on the CPU
    monkeypatch.setattr(Optimizer, "_accelerator_graph_capture_health_check", original)
