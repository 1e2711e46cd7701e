"""E6 (memorisation → generalisation): the stage on a tiny config, its repeatability, its errors, its science."""

from __future__ import annotations

import json

import pytest
import torch

from hebbdam.experiments.generalisation import classify, noise_levels
from hebbdam.memory import ModernHopfield
from hebbdam.memory.universal import gaussian_denoise

from ..conftest import compose_file, compose_then_edit

TINY = [
    "generalisation.dataset=digits",
    "generalisation.train_sizes=[2,50,1000]",
    "generalisation.arm_sizes=[2,1000]",
    "generalisation.sigma_min_sweep=[0.01]",
    "generalisation.samples=60",
    "generalisation.sweep_samples=30",
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
    assert sum(counts.values()) == record["samples"] == 60
    assert sum(record["sigma_min_sweep"]["0.01"]["K1000"]["counts"].values()) == record["sweep_samples"] == 30
    assert sum(record["arms"]["hebbian"]["K2"]["counts"].values()) == 30
    assert {k for k in record["arms"]["backprop"] if k.startswith("K") and k[1:].isdigit()} == {"K2", "K1000"}


def test_samples_at_attractors_are_counted(tiny_run):
    """At σ_min → 0 every sample is a training image and one more denoising step leaves it there (all at an
    attractor); the headline records the fraction at attractors overall and per class, each a fraction."""
    record = json.loads((tiny_run[0] / "generalisation.json").read_text())
    assert record["sigma_min_sweep"]["0.01"]["K1000"]["at_attractor"] == 1.0
    for k in ("K2", "K50", "K1000"):
        point = record["arms"]["optimal"][k]
        assert 0.0 <= point["at_attractor"] <= 1.0
        parts = [(point[c], point.get(f"at_attractor_{c}")) for c in ("memorised", "spurious", "generalised")]
        assert all((a is None) == (f == 0) for f, a in parts)  # a class's fraction exactly when it has samples
        assert sum(f * a for f, a in parts if a is not None) == pytest.approx(point["at_attractor"], abs=1e-5)


def test_settled_is_one_recall_step_below_the_tolerance():
    from hebbdam.experiments.generalisation import settled

    memories = torch.tensor([[0.0, 0.0], [10.0, 0.0]])
    states = torch.tensor([[0.0, 0.0], [3.0, 0.0], [10.0, 0.1]])
    moved = settled(states, memories, 0.5, tolerance=0.2)
    assert moved.tolist() == [True, False, True]


def spurious_points(fractions: list[float], samples: int) -> list[dict]:
    return [
        {"K": k, "samples": samples, "memorised": 0.0, "spurious": f, "generalised": 1 - f}
        for k, f in zip((2, 20, 200, 2000), fractions, strict=False)
    ]


@pytest.mark.parametrize(
    "fractions,samples,verdict",
    [
        ([0.126, 0.315, 0.2, 0.112], 1000, "direction reproduced"),  # the check at 1,000 samples
        ([0.126, 0.315, 0.2, 0.112], 40, "inconclusive"),  # the same fractions: 40 samples cannot see it
        ([0.126, 0.16, 0.14, 0.112], 200, "inconclusive"),
        ([0.45, 0.1, 0.1, 0.05], 1000, "not reproduced"),  # an end stands above every interior K
    ],
)
def test_peak_verdict_follows_the_intervals(fractions, samples, verdict):
    from hebbdam.experiments.generalisation import summarise
    from hebbdam.figures.generalisation import peak_verdict

    assert peak_verdict(summarise(spurious_points(fractions, samples))) == verdict


def test_figure_draws_from_the_files(tiny_run, run_cli, tmp_path):
    assert run_cli("figures", "--metrics", tiny_run[0], "--out", tmp_path, "generalisation") == 0
    assert (tmp_path / "generalisation.png").read_bytes()[:4] == b"\x89PNG"


def test_bad_params_exit_2_naming_the_key(prepared, run_cli, tmp_path, capsys):  # noqa: F811
    base = [*TINY, f"data.root={prepared}"]
    for override, key in (
        ("generalisation.arms=[optimal,vae]", "generalisation.arms"),
        ("generalisation.sigma_min=-1", "generalisation.sigma_min"),
        ("generalisation.train_sizes=[2,1000,5000]", "generalisation.train_sizes"),
        ("generalisation.sweep_samples=61", "generalisation.sweep_samples"),
        ("generalisation.arm_sizes=[2,3]", "generalisation.arm_sizes"),
    ):
        params = compose_then_edit(tmp_path / "params.yaml", base, override)
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
    torch.testing.assert_close(gaussian_denoise(states, memories, sigma), expected, atol=1e-5, rtol=1e-5)


def test_schedule_and_classification():
    levels = noise_levels(10.0, 0.1, 20)
    assert levels[0] == pytest.approx(10.0) and levels[-1] == pytest.approx(0.1)
    assert all(a > b for a, b in zip(levels[:-1], levels[1:], strict=True))
    train = torch.eye(4)
    samples = torch.stack([train[0], train[1] + 0.01, torch.full((4,), 0.5), torch.full((4,), 0.5), torch.zeros(4)])
    result = classify(samples, train, delta_m=0.1, delta_s=0.1)
    assert (result["memorised"], result["spurious"], result["generalised"]) == (0.4, 0.4, 0.2)
