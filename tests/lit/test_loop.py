"""The plain loops (hebbdam.lit.loop.fit_plain, hebbdam.lit.storage.write_plain) against the Lightning fits they
stand in for: bitwise the same weights, readings, curves and summaries; and the same errors."""

from __future__ import annotations

import pytest
import torch

from hebbdam.data.synthetic import rademacher
from hebbdam.errors import ConfigError, DivergedError, HebbdamError
from hebbdam.lit import loop, storage
from hebbdam.lit.backprop import (
    BackpropModule,
    Denoising,
    MemoryMatrix,
    PairwiseWeights,
    Plateau,
    fit_denoising,
    fit_until_plateau,
)
from hebbdam.memory import Power
from hebbdam.rules import get_rule

pytestmark = pytest.mark.usefixtures("one_thread")  # small tensors: one thread is faster and steadier


def patterns(count, dim, seed=0):
    return rademacher(count, dim, torch.Generator().manual_seed(seed))


def both_paths(monkeypatch, fit):
    """``fit()`` run through the plain loop, then through Lightning (the loop switched off): their results."""
    plain = fit()
    with monkeypatch.context() as patch:
        patch.setattr(loop, "plain_loop_applies", lambda section, logger: False)
        lightning = fit()
    return plain, lightning


def test_denoising_with_a_noise_plateau_is_bitwise_the_lightning_fit(monkeypatch):
    x = patterns(10, 24)

    def fit():
        plateau = Plateau(window=5, tolerance=0.0, floor=0.0, noise=0.5)
        module = fit_denoising(
            PairwiseWeights(24, init_std=0.01, seed=3), x, flip=0.2, lr=0.03, updates=200, batch_size=4, seed=3,
            trainer_options={"accelerator": "cpu", "devices": 1}, logger=False, plateau=plateau,
        )  # fmt: skip
        return module.memory.raw.detach().clone(), module.fit_summary, plateau.updates

    (w_plain, s_plain, u_plain), (w_light, s_light, u_light) = both_paths(monkeypatch, fit)
    assert 0 < s_plain["updates"] < 200 and s_plain["converged"]  # stopped by the plateau, mid-fit
    assert s_plain["stalled"] is False  # the loss fell from its first window before it flattened
    assert u_plain == u_light  # every update's loss, as a float
    assert s_plain == s_light
    assert torch.equal(w_plain, w_light)


@pytest.mark.parametrize(
    ("cap", "noise", "restarts"), [(57, 0.0, 0), (400, 0.0, 0), (400, 2.0, 0), (400, 2.0, 1)]
)  # 57: the cap ends an epoch early (that partial epoch is read too); noise: the epoch reading's noise test;
# restarts: Adam's state cleared on the first flat reading (the Lightning trainer's optimisers, the plain loop's)
def test_fit_until_plateau_shuffled_and_annealed_is_bitwise_the_lightning_fit(monkeypatch, cap, noise, restarts):
    x = patterns(13, 20, seed=1)

    def fit():
        memory = MemoryMatrix(6, 20, Power(3), init_std=0.2, seed=5)
        module = BackpropModule(memory, Denoising(steps=2, flip=0.1), lr=0.02, anneal=0.9, seed=5)
        summary = fit_until_plateau(
            module, x, 4, cap, 20, 0.02, None, floor=0.05, updates_per_epoch=10, noise=noise, confirm=2,
            restarts=restarts,
        )  # fmt: skip
        return memory.memories.detach().clone(), summary

    (w_plain, s_plain), (w_light, s_light) = both_paths(monkeypatch, fit)
    assert s_plain["epochs"] >= 2
    assert s_plain["stalled"] is False
    assert s_plain.get("restarts", 0) == restarts  # the restart was spent, on both paths (the summaries are equal)
    assert s_plain == s_light  # updates, epochs, converged, stalled, and the epoch mean bit for bit
    assert torch.equal(w_plain, w_light)


def vanishing(seed=5):
    """A DAM whose gradient vanishes: F = x⁸ on overlaps ξ·s/D of about 0.02 at start N(0, 0.1²) gives fields of
    about 1e-14, so every recalled state is ≈ 0 and the denoising loss stays at 1 (E7's n = 8 at its start)."""
    return MemoryMatrix(6, 20, Power(8), init_std=0.1, seed=seed)


def test_a_fit_whose_loss_stays_at_its_start_reads_stalled_not_converged_on_both_loops(monkeypatch):
    """Per epoch (fit_until_plateau): the loss flat at its first epoch's value, above the floor, stops the fit
    (flat) but reads stalled and not converged, the same on both loops."""
    x = patterns(13, 20, seed=1)

    def fit():
        module = BackpropModule(vanishing(), Denoising(steps=2, flip=0.1), lr=0.02, seed=5)
        return fit_until_plateau(module, x, 4, 400, 20, 0.02, None, floor=0.05, updates_per_epoch=10)

    plain, lightning = both_paths(monkeypatch, fit)
    assert plain["stalled"] is True and plain["converged"] is False
    assert plain["updates"] < 400 and plain["loss"] == pytest.approx(1.0, abs=1e-3)  # stopped flat, at its start
    assert plain == lightning


def test_a_denoising_fit_flat_at_its_start_reads_stalled_on_both_loops(monkeypatch):
    """Per update with the noise test (fit_denoising's fit_summary): the same reading."""
    x = patterns(10, 20)

    def fit():
        plateau = Plateau(window=5, tolerance=0.01, floor=1e-3, noise=2.0)
        module = fit_denoising(vanishing(3), x, flip=0.2, lr=0.03, updates=200, batch_size=4, seed=3,
                               trainer_options={}, logger=False, plateau=plateau)  # fmt: skip
        return module.fit_summary

    plain, lightning = both_paths(monkeypatch, fit)
    assert plain["stalled"] is True and plain["converged"] is False and plain["updates"] < 200
    assert plain == lightning


def test_a_loss_at_the_floor_from_the_first_reading_is_solved_not_stalled(monkeypatch):
    """A fit whose first epoch already sits at or under the floor is converged (the criterion is solved), however
    little the loss moved."""
    x = patterns(13, 20, seed=1)

    def fit():
        module = BackpropModule(vanishing(), Denoising(steps=2, flip=0.1), lr=0.02, seed=5)
        return fit_until_plateau(module, x, 4, 400, 20, 0.02, None, floor=2.0, updates_per_epoch=10)

    plain, lightning = both_paths(monkeypatch, fit)
    assert plain["converged"] is True and plain["stalled"] is False and plain["epochs"] == 1
    assert plain == lightning


def test_a_diverging_learning_rate_raises_through_the_plain_loop_as_through_lightning(monkeypatch):
    x = patterns(12, 16)

    def fit():
        module = BackpropModule(PairwiseWeights(16, init_std=0.1), Denoising(steps=2), lr=1e38, optimizer="sgd")
        with pytest.raises(DivergedError) as raised:
            fit_until_plateau(module, x, 4, 50, 10, 0.0, {})
        return str(raised.value)

    plain, lightning = both_paths(monkeypatch, fit)
    assert "rule backprop/denoise: parameter 'raw' became non-finite at step" in plain
    assert plain == lightning


@pytest.mark.parametrize(
    "section, logger, plain",
    [
        ({"accelerator": "cpu", "devices": 1, "strategy": "auto", "precision": "32-true"}, False, True),
        ({"devices": 2}, False, True),  # strategy auto: the stage's workers, one fit per process
        ({}, "auto", False),  # a logger: Lightning logs the curves
        ({"accelerator": "gpu"}, False, False),
        ({"strategy": "ddp", "devices": 2}, False, False),
        ({"checkpoint": {"dir": "ckpt"}}, False, False),
        ({"precision": "bf16-mixed"}, False, False),
        ({"deterministic": True}, False, False),
    ],
)
def test_the_plain_loop_serves_only_what_it_can(section, logger, plain):
    assert loop.plain_loop_applies(section, logger) is plain


def test_an_unknown_trainer_key_is_a_config_error_on_the_plain_path_too():
    with pytest.raises(ConfigError, match="trainer.epochz"):
        loop.plain_loop_applies({"epochz": 3}, False)


def both_stores(monkeypatch, write):
    """``write()`` run through :func:`storage.write_plain`, then through Lightning: their results."""
    plain = write()
    with monkeypatch.context() as patch:
        patch.setattr(storage, "plain_epochs", lambda patterns, section, overrides: None)
        lightning = write()
    return plain, lightning


@pytest.mark.parametrize(
    ("name", "hyper", "epochs", "batch"),
    [
        ("hebb", {}, 1, 7),
        ("storkey", {}, 1, 5),
        ("slot", {}, 2, 6),  # appended rows: the shape grows with every batch
        ("pseudo_inverse_slots", {}, 1, 9),  # finalize turns the slots into keys
        ("oja", {"units": 3}, 3, 10),  # a random start (the module's seed)
        ("krotov_hopfield", {"units": 4}, 4, 8),  # annealed by progress epoch / epochs
    ],
)
def test_a_plain_store_is_bitwise_the_lightning_fit_with_its_curves(monkeypatch, name, hyper, epochs, batch):
    x = patterns(23, 12, seed=2)

    def write():
        with storage.collected_curves() as curves:
            module = storage.store(x, get_rule(name, **hyper), {}, batch, seed=4, max_epochs=epochs, logger=False)
        return module.stored.clone(), module.written, module.finalized, curves

    (s_plain, n_plain, f_plain, c_plain), (s_light, n_light, f_light, c_light) = both_stores(monkeypatch, write)
    assert torch.equal(s_plain, s_light)
    assert n_plain == n_light == 23 * epochs and f_plain and f_light
    assert c_plain == c_light and len(c_plain[0][1]) == epochs  # one (written, ‖stored‖) point per epoch


def test_a_diverging_store_names_the_same_step_through_both_paths(monkeypatch):
    x = patterns(40, 30) * 30.0  # Oja's rule with lr = 1 on large activity blows up within a few epochs

    def write():
        with pytest.raises(HebbdamError) as raised:
            storage.store(x, get_rule("oja", lr=1.0, units=2), {}, 8, max_epochs=20, logger=False)
        return str(raised.value)

    plain, lightning = both_stores(monkeypatch, write)
    assert "rule oja: stored tensor became non-finite at step" in plain
    assert plain == lightning


@pytest.mark.parametrize(
    ("rows", "section", "overrides", "epochs"),
    [
        (5, {}, {"logger": False}, 1),
        (5, {"max_epochs": 3}, {"logger": False}, 3),
        (5, {"max_epochs": 3}, {"logger": False, "max_epochs": 2}, 2),
        (5, {}, {}, None),  # the default logger: Lightning logs the curves
        (5, {}, {"logger": False, "callbacks": []}, None),  # an option only a Trainer takes
        (5, {"checkpoint": {"dir": "ckpt"}}, {"logger": False}, None),
        (0, {}, {"logger": False}, None),  # no batch: Lightning skips the fit, finalize included
        (5, {}, {"logger": False, "max_epochs": -1}, None),
    ],
)
def test_the_plain_store_serves_only_what_it_can(rows, section, overrides, epochs):
    assert storage.plain_epochs(torch.ones(rows, 4), section, overrides) == epochs


def read_per_epoch(plateau: Plateau, losses: list[float], per_epoch: int) -> int:
    """Feed ``losses`` update by update, an epoch reading (the epoch's mean) after every ``per_epoch``: the update
    the plateau stopped at (or the last)."""
    stopper = loop.Stopper([])
    for step, loss in enumerate(losses, start=1):
        plateau.update(stopper, loss)
        if step % per_epoch == 0:
            plateau.read(stopper, step, sum(losses[step - per_epoch : step]) / per_epoch)
        if stopper.should_stop:
            return step
    return len(losses)


def test_the_epoch_noise_test_stops_a_scattered_flat_loss_and_not_one_still_falling():
    """Per epoch with shuffled batches (E7's fits): a loss that falls from 1 to a level of ½ and scatters by 25% per
    update around it never reads flat within a 2% tolerance (epoch means of 25 updates scatter by 5%) and runs to the
    cap; with the noise test (2 standard errors of the two windows' per-update losses, unpaired) it stops, converged
    (it fell: not stalled), once two windows agree twice in a row. A loss still falling by 6% per epoch under the
    same scatter is not flat under the noise test: 22% between windows of 100 updates against an error of 3.5%
    (at 3% per epoch, 12% against 3.5%, 17 of 20 draws stop before update 1,500: a fall of about 3 errors per
    window is, for this test read every epoch, within reach of the noise; a slower trend needs a longer window)."""
    generator = torch.Generator().manual_seed(0)
    scatter = 1 + 0.25 * torch.randn(3000, generator=generator)
    steps = torch.arange(3000)
    flat = (scatter * (0.5 + 0.5 * torch.exp(-steps / 60))).tolist()
    falling = (0.5 * scatter * 0.94 ** (steps / 25)).tolist()

    def plateau(noise):
        return Plateau(window=100, tolerance=0.02, floor=1e-3, unit="epoch", noise=noise, confirm=2)

    relative = plateau(0.0)
    assert read_per_epoch(relative, flat, 25) == 3000 and not relative.converged  # to the cap
    noisy = plateau(2.0)
    assert read_per_epoch(noisy, flat, 25) < 1000 and noisy.converged and not noisy.stalled
    falling_fit = plateau(2.0)
    assert read_per_epoch(falling_fit, falling[:1500], 25) == 1500 and not falling_fit.converged
    assert len(relative.updates) == 0  # without the noise test an epoch plateau keeps no per-update losses


def test_the_noise_test_needs_per_update_losses():
    with pytest.raises(ValueError, match="noise"):
        Plateau(window=5, unit="validation", noise=1.0)
