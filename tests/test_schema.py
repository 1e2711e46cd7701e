"""The stages' Settings come from their schemas (hebbdam.schema): every key a stage reads is checked for its type and
its bound, unknown keys and unknown arm options are refused, each in one line that names the full key."""

from __future__ import annotations

import copy
import importlib
from dataclasses import dataclass

import pytest
import yaml

from hebbdam.composition import compose
from hebbdam.config import Params
from hebbdam.errors import ConfigError, HebbdamError
from hebbdam.schema import (
    FRACTION,
    NONNEG_INT,
    POSITIVE,
    POSITIVE_INT,
    POSITIVE_LIST,
    POWER,
    Named,
    Section,
    int_list,
    parse,
    setting,
)
from hebbdam.stages import EXPERIMENTS

from .conftest import REPO_ROOT, TINY_CAPACITY


@pytest.fixture(scope="module")
def ci_params() -> dict:
    return yaml.safe_load(compose(["profile=ci"], config_dir=REPO_ROOT / "conf"))


def _refusal(*overrides: str) -> str:
    with pytest.raises(HebbdamError) as refused:
        compose([*TINY_CAPACITY, *overrides], config_dir=REPO_ROOT / "conf")
    message = str(refused.value)
    assert "\n" not in message, message
    return message


@pytest.mark.parametrize(
    ("override", "line"),
    [
        ("capacity.trials=abc", "params key 'capacity.trials': expected a positive integer, got 'abc'"),  # type
        ("capacity.trials=0", "params key 'capacity.trials': expected a positive integer, got 0"),  # bound
        ("+capacity.arms.hebb_async.bias=1", "params key 'capacity.arms.hebb_async.bias': expected a pattern bias"),
        ("+capacity.arms.hebb_async.dimz=[1]", "params key 'capacity.arms.hebb_async.dimz': unknown"),  # unknown key
        (  # an unknown arm option names what the arm's model takes
            "+capacity.arms.hebb_async.options.updatez=5",
            "params key 'capacity.arms.hebb_async.options.updatez': expected an option of model 'hopfield' "
            "(epochs, batch_size, threshold), got 'unknown'",
        ),
        (  # the budget arms share the option schemas of the capacity arms (one arm schema for both stages)
            "+budget.patterns.arms.delta.options.updates=5",
            "params key 'budget.patterns.arms.delta.options.updates': expected an option of memory 'hopfield' with "
            "rule 'delta' (epochs, batch_size), got 'unknown'",
        ),
    ],
)
def test_composition_refuses_each_bad_value_in_one_line(override, line):
    assert line in _refusal(override)


def _leaves(node: object, path: tuple[str, ...] = ()):
    if isinstance(node, dict) and node:
        for key, value in node.items():
            yield from _leaves(value, (*path, str(key)))
    else:
        yield path, node


def _stage_sections():
    for stage in EXPERIMENTS:
        for item in stage.foreach or ("",):
            yield stage.module, stage.params[0].replace("${item}", item), bool(stage.foreach)


@pytest.mark.parametrize(("module", "section", "foreach"), list(_stage_sections()))
def test_every_key_a_stage_reads_refuses_a_wrong_type_naming_the_key(ci_params, module, section, foreach):
    """Each leaf of the stage's section in turn gets a value of the wrong type (a list for a string, a string for
    anything else): the stage's parser refuses it with a ConfigError naming that key (a rule's hyper-parameter is
    checked by the rule, and the refusal names the arm's ``hyper``)."""
    parse_settings = importlib.import_module(module).parse_settings
    root = section.split(".")
    node = ci_params
    for part in root:
        node = node[part]
    leaves = list(_leaves(node))
    assert len(leaves) > 5
    for path, value in leaves:
        data = copy.deepcopy(ci_params)
        parent = data
        for part in (*root, *path[:-1]):
            parent = parent[part]
        parent[path[-1]] = [12345] if isinstance(value, str) else "abc"
        key = ".".join((*root, *path))
        with pytest.raises(ConfigError) as refused:
            parse_settings(Params(data), section) if foreach else parse_settings(Params(data))
        named = key.split(".hyper.")[0] + ".hyper" if ".hyper." in key else key
        assert f"params key '{named}'" in str(refused.value), (key, str(refused.value))


@pytest.mark.parametrize(
    ("check", "good", "bad"),
    [
        (POSITIVE_INT, [1, 7], [0, -1, True, 1.5, "3", None]),
        (NONNEG_INT, [0, 3], [-1, False, 0.5]),
        (FRACTION, [0, 0.5, 1], [-0.01, 1.01, True, "0.5"]),
        (POSITIVE, [1e-9, 3], [0, -1, float("inf"), True]),
        (POWER, [2, 30], [1, 0, 2.5]),
        (int_list(2), [[2, 3]], [[], [1], [2, True], 2]),
        (POSITIVE_LIST, [[0.1, 2]], [[], [0.1, 0], [float("inf")], 0.1]),
    ],
)
def test_each_check_holds_its_bound(check, good, bad):
    assert all(check.accepts(value) for value in good)
    assert not any(check.accepts(value) for value in bad), [v for v in bad if check.accepts(v)]


@dataclass(frozen=True, kw_only=True)
class _Arm:
    name: str
    kind: str = setting(POSITIVE_INT)
    n: int = setting(POWER, when=lambda v: v["kind"] == 2)


@dataclass(frozen=True, kw_only=True)
class _Inner:
    size: int = setting(POSITIVE_INT)


@dataclass(frozen=True, kw_only=True)
class _Schema:
    trials: int = setting(POSITIVE_INT)
    bias: float = setting(FRACTION, 0.25)
    inner: _Inner = setting(Section(_Inner))
    arms: list[_Arm] = setting(Named(_Arm, "at least one arm"))
    given: str


def test_parse_reads_nested_sections_named_entries_defaults_and_records_every_key_read():
    data = {"s": {"trials": 3, "inner": {"size": 2}, "arms": {"a": {"kind": 1}, "b": {"kind": 2, "n": 3}}}}
    params = Params(data)
    settings = parse(_Schema, params.section("s"), given="x")
    assert settings == _Schema(
        trials=3, bias=0.25, inner=_Inner(size=2), arms=[_Arm(name="a", kind=1), _Arm(name="b", kind=2, n=3)], given="x"
    )
    assert {"s.trials", "s.inner.size", "s.arms.a.kind", "s.arms.b.kind", "s.arms.b.n"} <= params.seen
    assert "s.arms.a.n" not in params.seen  # not read when its condition is false: present, it is an unknown key
    with pytest.raises(ConfigError, match=r"'s\.arms\.b\.n': expected an integer power ≥ 2, got 1"):
        data["s"]["arms"]["b"]["n"] = 1
        parse(_Schema, Params(data).section("s"), given="x")
    with pytest.raises(ConfigError, match=r"'s\.arms': expected at least one arm, missing"):
        data["s"]["arms"] = {}
        parse(_Schema, Params(data).section("s"), given="x")
