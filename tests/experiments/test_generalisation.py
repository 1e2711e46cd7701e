"""E6 (memorisation → generalisation): the stage on a tiny config, its repeatability, its errors, its science."""

from __future__ import annotations

import json

import pytest
import torch

from hebbdam.experiments.generalisation import classify, denoise, noise_levels
from hebbdam.memory import ModernHopfield

from ..conftest import compose_file

TINY = [
    "generalisation.dataset=digits",
    "generalisation.train_sizes=[2,50,1000]",
    "generalisation.sigma_min_sweep=[0.01]",
    "generalisation.samples=60",
    "generalisation.backprop.steps=100",
]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, prepared):  # noqa: F811
    from hebbdam.cli import main

    root = tmp_path_factory.mktemp("generalisation")
    params = compose_file(root / "params.yaml", [*TINY, f"data.root={prepared}"])
    outs = []
    for name in ("a", "b"):
        assert main(["generalisation", "--params", str(params), "--out", str(root / name)]) == 0
        outs.append(root / name)
    return outs


def test_same_seed_identical_bytes(tiny_run):
    for name in ("generalisation.json", "generalisation_curves.json"):
        assert (tiny_run[0] / name).read_bytes() == (tiny_run[1] / name).read_bytes(), name


def test_memorised_falls_and_generalised_rises_with_k(tiny_run):
    """Pham et al. 2025's shape for the optimal denoiser: copies at small K, new samples at large K."""
    arm = json.loads((tiny_run[0] / "generalisation.json").read_text())["arms"]["optimal"]
    assert arm["K2"]["memorised"] > 0.9
    assert arm["K1000"]["memorised"] < 0.4 and arm["K1000"]["generalised"] > 0.5
    assert arm["K2"]["memorised"] > arm["K50"]["memorised"] > arm["K1000"]["memorised"]
    for k in ("K2", "K50", "K1000"):
        assert sum(arm[k][c] for c in ("memorised", "spurious", "generalised")) == pytest.approx(1.0)


def test_sigma_min_to_zero_memorises_at_every_k(tiny_run):
    """The empirical optimal denoiser returns a training point as σ_min → 0: at σ_min = 0.01 × NN every sample is a
    copy even at the largest K, where the headline σ_min generalises (the transition moves with σ_min)."""
    record = json.loads((tiny_run[0] / "generalisation.json").read_text())
    limit = record["sigma_min_to_zero"]
    assert limit["sigma_min"] == 0.01 and limit["K"] == 1000 and limit["memorised"] >= 0.95
    assert limit["memorised_interval"][0] <= limit["memorised"] <= limit["memorised_interval"][1]
    assert record["sigma_min_sweep"]["0.01"]["transition_K"] is None
    assert record["arms"]["optimal"]["K1000"]["memorised"] < 0.4
    counts = record["arms"]["optimal"]["K1000"]["counts"]
    assert sum(counts.values()) == record["samples"]


def test_figure_draws_from_the_files(tiny_run, run_cli, tmp_path):
    assert run_cli("figures", "--metrics", tiny_run[0], "--out", tmp_path, "generalisation") == 0
    assert (tmp_path / "generalisation.png").read_bytes()[:4] == b"\x89PNG"


def test_bad_params_exit_2_naming_the_key(prepared, run_cli, tmp_path, capsys):  # noqa: F811
    base = [*TINY, f"data.root={prepared}"]
    for override, key in (
        ("generalisation.arms=[optimal,vae]", "generalisation.arms"),
        ("generalisation.sigma_min=-1", "generalisation.sigma_min"),
        ("generalisation.train_sizes=[2,5000]", "generalisation.train_sizes"),
    ):
        params = compose_file(tmp_path / "params.yaml", [*base, override])
        assert run_cli("generalisation", "--params", params, "--out", tmp_path / "out") == 2
        assert key in capsys.readouterr().err
        assert not (tmp_path / "out").exists()


def test_optimal_denoiser_is_a_softmax_dam_step():
    """-‖x - ξ‖²/2σ² = (x·ξ - ‖ξ‖²/2)/σ² + const: with equal-norm memories it is ModernHopfield with β = 1/σ²."""
    generator = torch.Generator().manual_seed(5)
    memories = torch.nn.functional.normalize(torch.randn(40, 12, generator=generator), dim=-1)
    states = torch.randn(9, 12, generator=generator)
    sigma = 0.7
    expected = ModernHopfield(memories, beta=1 / sigma**2).step(states)
    torch.testing.assert_close(denoise(states, memories, sigma), expected, atol=1e-5, rtol=1e-5)


def test_schedule_and_classification():
    levels = noise_levels(10.0, 0.1, 20)
    assert levels[0] == pytest.approx(10.0) and levels[-1] == pytest.approx(0.1)
    assert all(a > b for a, b in zip(levels[:-1], levels[1:], strict=True))
    train = torch.eye(4)
    samples = torch.stack([train[0], train[1] + 0.01, torch.full((4,), 0.5), torch.full((4,), 0.5), torch.zeros(4)])
    result = classify(samples, train, delta_m=0.1, delta_s=0.1)
    assert (result["memorised"], result["spurious"], result["generalised"]) == (0.4, 0.4, 0.2)
