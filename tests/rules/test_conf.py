"""conf/rule/<name>.yaml agrees with the registered rules: one file per rule, same locality, target, hyper."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hebbdam.rules import get_rule, rule_defaults, rule_names

CONF = Path(__file__).resolve().parents[2] / "conf" / "rule"


def test_one_config_file_per_rule():
    assert sorted(p.stem for p in CONF.glob("*.yaml")) == rule_names()


@pytest.mark.parametrize("name", rule_names())
def test_config_matches_the_code(name):
    conf = yaml.safe_load((CONF / f"{name}.yaml").read_text(encoding="utf-8"))
    rule = get_rule(name, **(conf.get("hyper") or {}))
    assert conf["name"] == name
    assert conf["locality"] == rule.locality
    assert conf.get("target", rule.target) == rule.target
    assert (conf.get("hyper") or {}) == rule_defaults(name)


def test_validate_rules_command_runs_a_named_check(capsys, tmp_path):
    import json

    from hebbdam.cli import main

    out = tmp_path / "rules.json"
    assert main(["validate-rules", "pseudo_inverse", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["pseudo_inverse"]["fixed_point_fraction"] == 1.0
    assert main(["validate-rules", "nope"]) == 2
    assert "unknown check nope" in capsys.readouterr().err
