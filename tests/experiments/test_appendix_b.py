"""E2 (Krotov & Hopfield 2016, Appendix B): the stage on a tiny config, its repeatability, its errors, its science."""

from __future__ import annotations

import json
import math

import pytest

from ..conftest import compose_file, hand_edit

TINY = [
    "appendix_b.dim=40",
    "appendix_b.memories=200",  # K = 5 D: far past the pairwise capacity, far below the n = 5 capacity (~3300)
    "appendix_b.starts=24",
    "appendix_b.powers=[2,5]",
    "appendix_b.variants=[power,rectified]",
    "appendix_b.half.dims=[12,16]",
    "appendix_b.half.ratios=[0.05,0.2,0.6,1.5]",
    "appendix_b.half.trials=2",
    "appendix_b.half.starts=8",
]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from hebbdam.cli import main

    root = tmp_path_factory.mktemp("appendix_b")
    params = compose_file(root / "params.yaml", TINY)
    outputs = []
    for name in ("a", "b"):
        assert main(["appendix_b", "--params", str(params), "--out", str(root / name)]) == 0
        outputs.append(root / name)
    return root, outputs


def test_stage_writes_record_curves_and_figure(tiny_run, run_cli):
    root, (first, _) = tiny_run
    record = json.loads((first / "appendix_b.json").read_text())
    assert set(record["arms"]) == {"power_n2", "power_n5", "rectified_n2", "rectified_n5"}
    assert record["arms"]["power_n2"]["mirror"] and not record["arms"]["rectified_n2"]["mirror"]
    curves = json.loads((first / "appendix_b_curves.json").read_text())
    for hist in curves["histograms"]:
        assert sum(hist["count"]) == 24 and all(0 < m <= 1 for m in hist["max_overlap"])
    assert run_cli("figures", "appendix_b", "--metrics", first, "--out", root / "figs") == 0
    assert (root / "figs" / "appendix_b.png").read_bytes()[:4] == b"\x89PNG"
    from hebbdam.figures.appendix_b import comparisons

    rows = comparisons({"appendix_b.json": record})
    assert 1.0 in {r["published"] for r in rows}
    ratio = next(r for r in rows if r["quantity"].startswith("E2 K½(D) / Eq. (6)"))
    assert ratio["verdict"] == "not comparable" and "Eq. (6)" in ratio["source"]  # half of starts ≠ per-bit < 1/N
    half = record["half"]
    assert half["n"] == 3  # (2n - 3)!! = 3 below
    for key, k in half["k_half"].items():
        if k is not None:  # the ratio is K½ over the Eq. (6) curve at the same D
            expected = k / (int(key[1:]) ** (half["n"] - 1) / (2 * 3 * math.log(int(key[1:]))))
            assert half["ratio_to_no_error"][key] == pytest.approx(expected, rel=1e-5)


def test_two_runs_identical_bytes(tiny_run):
    _, (first, second) = tiny_run
    for name in ("appendix_b.json", "appendix_b_curves.json"):
        assert (first / name).read_bytes() == (second / name).read_bytes()


def test_every_start_ends_on_a_memory_for_n5_and_none_for_n2(tiny_run):
    """Krotov & Hopfield 2016 App. B: for n ≥ 5 every random start converges to a memory; the pairwise net at
    K = 5 D is a spin glass whose final states are no memory (max overlap well below 1)."""
    _, (first, _) = tiny_run
    arms = json.loads((first / "appendix_b.json").read_text())["arms"]
    for variant in ("power", "rectified"):
        assert arms[f"{variant}_n5"]["exact_fraction"] == 1.0
        assert arms[f"{variant}_n5"]["mean_max_overlap"] == 1.0
        assert arms[f"{variant}_n2"]["exact_fraction"] == 0.0
        assert arms[f"{variant}_n2"]["mean_max_overlap"] < 0.8
        assert arms[f"{variant}_n2"]["converged_fraction"] == 1.0  # asynchronous descent always stops


def test_k_half_is_bracketed_and_grows_with_d(tiny_run):
    _, (first, _) = tiny_run
    half = json.loads((first / "appendix_b.json").read_text())["half"]
    k12, k16 = half["k_half"]["D12"], half["k_half"]["D16"]
    assert k12 is not None and k16 is not None
    assert 0.05 * 12**2 < k12 < 1.5 * 12**2 and k16 > 0.05 * 16**2


def test_bad_params_exit_2_naming_the_key(compose_params, run_cli, capsys, tmp_path):
    params = hand_edit(compose_params(*TINY), "appendix_b.variants=[power,cubic]")
    assert run_cli("appendix_b", "--params", params, "--out", tmp_path / "out") == 2
    assert "appendix_b.variants" in capsys.readouterr().err
    params = hand_edit(compose_params(*TINY, name="p2.yaml"), "appendix_b.half.n=1")
    assert run_cli("appendix_b", "--params", params, "--out", tmp_path / "out") == 2
    assert "appendix_b.half.n" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
