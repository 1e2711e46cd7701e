"""params.yaml is the composition of conf/; every profile composes; bad params stop with one clear line."""

from __future__ import annotations

import pytest
import yaml

from hebbdam.composition import compose
from hebbdam.config import Params, load_params
from hebbdam.experiments.capacity import parse_settings

from .conftest import REPO_ROOT, TINY_CAPACITY, hand_edit


def test_committed_params_equal_default_composition():
    committed = (REPO_ROOT / "params.yaml").read_text(encoding="utf-8")
    assert committed == compose([], config_dir=REPO_ROOT / "conf", selection=False), (
        "params.yaml is stale: run `make params`"
    )


@pytest.mark.parametrize("profile", ["laptop", "ci", "paper"])
def test_every_profile_composes_into_valid_settings(compose_params, profile):
    settings = parse_settings(load_params(compose_params(f"profile={profile}")))
    assert settings.trials >= 5 and {a.name for a in settings.arms} >= {"hebb_async", "dam3_async"}


def test_rule_override_reaches_the_hebbian_arms(compose_params):
    params = yaml.safe_load(compose_params("rule=storkey").read_text())
    assert params["capacity"]["arms"]["hebb_async"]["rule"] == "storkey"


BAD_INPUTS = [
    (
        ["capacity.arms.hebb_async.model=perceptron"],
        "capacity.arms.hebb_async.model",
        "one of hopfield, dense",
    ),
    (["capacity.arms.hebb_async.dims=[0]"], "capacity.arms.hebb_async.dims", "integers ≥ 2"),
    (["capacity.arms.hebb_async.loads=[0.1,-0.5]"], "capacity.arms.hebb_async.loads", "(0, ∞)"),
    (["capacity.arms.hebb_async.loads=[0.1,.inf]"], "capacity.arms.hebb_async.loads", "(0, ∞)"),
    (["capacity.trials=0"], "capacity.trials", "positive integer"),
    (["capacity.arms.hebb_async.rule=slot"], "capacity.arms.hebb_async.rule", "writes pairwise"),
    (["capacity.arms.dam3_async.separation.n=1"], "capacity.arms.dam3_async.separation.n", "power ≥ 2"),
]


@pytest.mark.parametrize(("overrides", "key", "expected"), BAD_INPUTS)
def test_composition_refuses_a_bad_value_before_writing(tmp_path, overrides, key, expected):
    from hebbdam.errors import HebbdamError

    with pytest.raises(HebbdamError) as refused:
        compose([*TINY_CAPACITY, *overrides], config_dir=REPO_ROOT / "conf")
    message = str(refused.value)
    assert "\n" not in message and key in message and expected in message, message


@pytest.mark.parametrize(("overrides", "key", "expected"), BAD_INPUTS)
def test_bad_params_give_one_line_and_leave_outputs_alone(
    compose_params, run_cli, capsys, tmp_path, overrides, key, expected
):
    params = compose_params(*TINY_CAPACITY)
    for override in overrides:
        hand_edit(params, override)
    out = tmp_path / "metrics"
    out.mkdir()
    (out / "capacity.json").write_text("previous result")
    assert run_cli("capacity", "--params", params, "--out", out) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("hebbdam: error:") and key in err[0] and expected in err[0], err
    assert sorted(p.name for p in out.iterdir()) == ["capacity.json"]
    assert (out / "capacity.json").read_text() == "previous result"


UNKNOWN_KEYS = [
    ("capacity.arms.hebb_async.dimz=[10]", "capacity.arms.hebb_async.dimz"),
    ("ladder.backprop.arms.backprop_pairwise.options.updatez=5", "options.updatez"),
    ("capacity.arms.hebb_async.separation={kind: power, n: 3}", "capacity.arms.hebb_async.separation"),
    ("retrieval.softmax_betaa=1.0", "retrieval.softmax_betaa"),
    ("trainer.devicez=2", "trainer.devicez"),
    ("capacityy={}", "capacityy"),
]


@pytest.mark.parametrize(("override", "key"), UNKNOWN_KEYS)
def test_an_unknown_key_is_refused_not_ignored(compose_params, run_cli, capsys, tmp_path, override, key):
    """A typo typed into params.yaml (or added with +key=… in a composition) stops the stage with the key's name."""
    params = compose_params(*TINY_CAPACITY)
    hand_edit(params, override)
    assert run_cli("capacity", "--params", params, "--out", tmp_path / "out") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and key in err[0] and ("unknown" in err[0] or "option of model" in err[0]), err
    assert not (tmp_path / "out").exists()


def test_a_grid_too_big_for_memory_is_refused_with_an_estimate(compose_params, run_cli, capsys, tmp_path):
    params = compose_params(*TINY_CAPACITY)
    hand_edit(params, "capacity.arms.hebb_async.dims=[2000000]")
    assert run_cli("capacity", "--params", params, "--out", tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert "capacity.arms.hebb_async.dims" in err and "GiB" in err and "fits in memory" in err


def test_params_yaml_syntax_error_is_one_line(run_cli, capsys, tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("capacity:\n  trials: [5\n  seed: 0\n")
    assert run_cli("capacity", "--params", path) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not valid YAML at line" in err[0], err


def test_missing_key_is_named(compose_params, run_cli, capsys, tmp_path):
    path = compose_params(*TINY_CAPACITY)
    data = yaml.safe_load(path.read_text())
    del data["capacity"]["flip_fraction"]
    path.write_text(yaml.safe_dump(data))
    assert run_cli("capacity", "--params", path, "--out", tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert "params key 'capacity.flip_fraction'" in err and "missing" in err
    assert not (tmp_path / "out").exists()


def test_missing_params_file_is_named(run_cli, capsys, tmp_path):
    assert run_cli("capacity", "--params", tmp_path / "nope.yaml") == 2
    assert "nope.yaml: params file not found" in capsys.readouterr().err


def test_params_getters_reject_bools_for_numbers():
    with pytest.raises(Exception, match="positive integer"):
        Params({"trials": True}).positive_int("trials")
