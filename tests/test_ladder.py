"""The E1 ladder: every arm of every family runs on tiny sizes; rule/model mismatches are named; science checks."""

from __future__ import annotations

import json

import pytest
import torch
import yaml

from hebbdam.config import Params
from hebbdam.experiments.capacity import measure_point, parse_settings

from .conftest import hand_edit

FAMILIES = ["pairwise", "dense", "backprop"]


def shrink(params_path, family: str) -> None:
    """Keep every arm of ``family`` but at its smallest D and two loads, 2 trials, few epochs."""
    data = yaml.safe_load(params_path.read_text())
    section = data["ladder"][family]
    section["trials"] = 2
    for arm in section["arms"].values():
        arm["dims"] = [min(arm["dims"])]
        arm["loads"] = arm["loads"][:2]
        for key, tiny in (("epochs", 2), ("updates", 10)):
            if key in arm.get("options", {}):
                arm["options"][key] = tiny
    params_path.write_text(yaml.safe_dump(data))


@pytest.mark.parametrize("family", FAMILIES)
def test_every_ladder_arm_runs_tiny(compose_params, run_cli, tmp_path, family):
    params = compose_params()
    shrink(params, family)
    assert run_cli("ladder", family, "--params", params, "--out", tmp_path) == 0
    record = json.loads((tmp_path / f"ladder_{family}.json").read_text())
    configured = yaml.safe_load(params.read_text())["ladder"][family]["arms"]
    assert set(record["arms"]) == set(configured)
    for arm in record["arms"].values():
        assert arm["locality"] in ("local", "nonlocal")


def test_ladder_labels_nonlocal_rules(compose_params):
    settings = parse_settings(Params(yaml.safe_load(compose_params().read_text())), "ladder.pairwise")
    locality = {arm.name: arm.locality for arm in settings.arms}
    assert locality["pseudo_inverse"] == "nonlocal" and locality["dreaming_t10"] == "nonlocal"
    assert locality["hebb"] == locality["storkey"] == locality["delta"] == "local"


def test_rule_that_cannot_write_the_model_is_named(compose_params, run_cli, capsys, tmp_path):
    params = hand_edit(compose_params(), "ladder.pairwise.arms.storkey.model=dense")  # composition would refuse it
    assert run_cli("ladder", "pairwise", "--params", params, "--out", tmp_path) == 2
    err = capsys.readouterr().err
    assert "ladder.pairwise.arms.storkey" in err
    assert not list(tmp_path.glob("ladder_*.json"))


def test_ladder_needs_a_family_name(run_cli, capsys):
    with pytest.raises(SystemExit) as refused:
        run_cli("ladder")
    assert refused.value.code == 2
    assert "required: family" in capsys.readouterr().err


def test_storkey_and_pseudo_inverse_hold_patterns_hebb_loses(compose_params):
    """At α = 0.3, D = 100 (well above Hebb's 0.138): Storkey and the pseudo-inverse retrieve, Hebb does not."""
    settings = parse_settings(Params(yaml.safe_load(compose_params().read_text())), "ladder.pairwise")
    arms = {arm.name: arm for arm in settings.arms}
    torch.manual_seed(0)
    retrieved = {
        name: measure_point(arms[name], 100, 0.3, settings)["retrieved"]
        for name in ("hebb", "storkey", "pseudo_inverse")
    }
    assert retrieved["hebb"] < 0.1
    assert retrieved["pseudo_inverse"] > 0.9
    assert retrieved["storkey"] > retrieved["hebb"] + 0.3
