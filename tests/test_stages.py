"""Every stage entry point runs on tiny configs composed from the real conf/, and repeats bit for bit."""

from __future__ import annotations

import json

from .conftest import TINY_CAPACITY


def run_capacity(run_cli, params, out):
    assert run_cli("capacity", "--params", params, "--out", out) == 0
    return (out / "capacity.json").read_bytes(), (out / "capacity_curves.json").read_bytes()


def test_capacity_then_figures(compose_params, run_cli, tmp_path):
    params = compose_params(*TINY_CAPACITY)
    metrics = tmp_path / "metrics"
    run_capacity(run_cli, params, metrics)
    record = json.loads((metrics / "capacity.json").read_text())
    assert set(record["arms"]) == {"hebb_async", "hebb_sync", "dam3_async"}
    hebb = record["arms"]["hebb_async"]["D24"]
    estimates = {"critical_load", "exact_capacity_load", "fixed_point_capacity_load"}
    assert hebb.keys() == {"dim"} | estimates | {f"{key}_outside" for key in estimates if hebb[key] is None}
    assert hebb["dim"] == 24 and record["arms"]["dam3_async"]["n"] == 3
    curves = json.loads((metrics / "capacity_curves.json").read_text())
    low = next(p for p in curves if p["arm"] == "hebb_async" and p["load"] == 0.05)
    assert low["exact"] == 1.0 and low["fixed_point"] == 1.0  # one pattern in 24 neurons is always recalled
    figures = tmp_path / "figures"
    assert run_cli("figures", "capacity", "--metrics", metrics, "--out", figures) == 0
    png = (figures / "capacity.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert run_cli("figures", "capacity", "--metrics", metrics, "--out", figures) == 0
    assert (figures / "capacity.png").read_bytes() == png, "figures must be byte-for-byte repeatable"


def test_same_seed_gives_identical_metrics_files(compose_params, run_cli, tmp_path):
    params = compose_params(*TINY_CAPACITY)
    assert run_capacity(run_cli, params, tmp_path / "a") == run_capacity(run_cli, params, tmp_path / "b")


def test_another_seed_gives_other_curves(compose_params, run_cli, tmp_path):
    first = run_capacity(run_cli, compose_params(*TINY_CAPACITY), tmp_path / "a")
    other = run_capacity(run_cli, compose_params(*TINY_CAPACITY, "seed=1", name="p1.yaml"), tmp_path / "b")
    assert first[1] != other[1]


def test_figures_stage_names_a_missing_metrics_file(run_cli, capsys, tmp_path):
    assert run_cli("figures", "--metrics", tmp_path / "empty", "--out", tmp_path / "figs") == 2
    assert "capacity.json: file not found" in capsys.readouterr().err
    assert not (tmp_path / "figs").exists()


def test_compose_command_writes_params(run_cli, tmp_path, monkeypatch):
    from .conftest import REPO_ROOT

    monkeypatch.chdir(REPO_ROOT)
    out = tmp_path / "params.yaml"
    assert run_cli("compose", "profile=ci", "--out", out) == 0
    assert "profile: ci" in out.read_text()
