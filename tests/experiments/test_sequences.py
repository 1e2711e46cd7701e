"""E4 (Chaudhry et al. 2023): the stage on a tiny config, repeatability, errors, and the science it rests on."""

from __future__ import annotations

import json

import pytest
import torch

from hebbdam.data.synthetic import biased
from hebbdam.dynamics import rollout
from hebbdam.experiments.sequences import (
    build,
    search_capacity,
    transitions_correct,
    whole_sequence_correct,
)
from hebbdam.memory import PseudoInverseSequence, SequenceMemory
from hebbdam.settings.sequences import RULES, Model

from ..conftest import compose_file, hand_edit

TINY = [
    "sequences.trials=4",
    "sequences.models.seqnet.dims=[40,80]",
    "sequences.models.poly2.dims=[20,40]",
    "sequences.models.poly3.dims=[12]",
    "sequences.models.poly4.dims=[10]",
    "sequences.models.exp.dims=[6,8]",
    "sequences.biased.dim=40",
    "sequences.biased.epsilons=[0.0,0.5]",
    "sequences.digits.trials=2",
    "sequences.digits.dataset=digits",
]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, prepared):
    from hebbdam.cli import main

    root = tmp_path_factory.mktemp("sequences")
    params = compose_file(root / "params.yaml", [*TINY, f"data.root={prepared}"])
    for name in ("a", "b"):
        assert main(["sequences", "--params", str(params), "--out", str(root / name)]) == 0
    return root


def test_stage_record_figure_and_repeatability(tiny_run, run_cli):
    record = json.loads((tiny_run / "a" / "sequences.json").read_text())
    assert set(record["random"]) == {"seqnet", "poly2", "poly3", "poly4", "exp"}
    for name in ("sequences.json", "sequences_curves.json"):
        assert (tiny_run / "a" / name).read_bytes() == (tiny_run / "b" / name).read_bytes()
    assert run_cli("figures", "sequences", "--metrics", tiny_run / "a", "--out", tiny_run / "figs") == 0
    assert (tiny_run / "figs" / "sequences.png").read_bytes()[:4] == b"\x89PNG"


def test_polynomial_transition_capacity_near_theory(tiny_run):
    """P_T of SeqNet and the d = 2 DenseNet within a factor 2 of D^d / (2 (2d-1)!! ln D), and d = 2 ≫ d = 1."""
    random = json.loads((tiny_run / "a" / "sequences.json").read_text())["random"]
    for name, dim in (("seqnet", 80), ("poly2", 40)):
        assert 0.5 <= random[name][f"D{dim}"]["ratio_T"] <= 1.5, random[name]
    assert random["poly2"]["D40"]["P_T"] > 5 * random["seqnet"]["D40"]["P_T"]


def test_bias_lowers_hebbian_capacity_not_the_pseudo_inverse(tiny_run):
    biased_record = json.loads((tiny_run / "a" / "sequences.json").read_text())["biased"]
    assert biased_record["poly2"]["eps0.5"]["P_T"] < 0.5 * biased_record["poly2"]["eps0"]["P_T"]
    assert biased_record["pinv"]["eps0.5"]["P_T"] >= 0.9 * biased_record["D"]
    assert biased_record["pinv"]["locality"] == "nonlocal"


def test_digit_frames_only_the_exponential_net_recalls(tiny_run):
    digits = json.loads((tiny_run / "a" / "sequences.json").read_text())["digits"]
    assert digits["exp"]["transition_fraction"] == 1.0
    assert digits["seqnet"]["transition_fraction"] == 0.0 and digits["poly2"]["transition_fraction"] <= 0.1


def test_whole_sequence_check_equals_the_rollout():
    """All P transitions exact ⇔ the rollout from ξ_1 reproduces the cyclic sequence for P steps."""
    for seed, length in ((0, 5), (1, 9), (2, 14), (3, 20)):
        patterns = biased(length, 30, 0.0, torch.Generator().manual_seed(seed))
        memory = SequenceMemory(patterns, kind="polynomial", degree=2)
        frames = rollout(memory, patterns[:1], length)[:, 0]
        expected = bool((frames == torch.cat([patterns, patterns[:1]])).all())
        assert whole_sequence_correct(memory, patterns) == expected
        index = torch.arange(length)
        assert bool(transitions_correct(memory, patterns, index).all()) == expected


def test_pseudo_inverse_is_exact_on_correlated_patterns():
    patterns = biased(30, 60, 0.6, torch.Generator().manual_seed(0))  # strongly biased: Hebbian SeqNet fails
    pinv = PseudoInverseSequence(patterns)
    assert bool(transitions_correct(pinv, patterns, torch.arange(30)).all())
    assert not bool(transitions_correct(SequenceMemory(patterns), patterns, torch.arange(30)).all())


@pytest.mark.parametrize("rule", sorted(RULES))
def test_a_model_builds_its_registry_kind_and_only_the_pseudo_inverse_recalls_correlated_patterns(rule):
    """``Model.memory`` (the registry kind of each rule): on strongly biased patterns the non-local pseudo-inverse
    recalls every transition and the Hebbian SeqNet does not; the pseudo-inverse's scan stops at 2D."""
    model = Model(name=rule, kind="linear", degree=1, rule=rule, dims=(60,))
    patterns = biased(30, 60, 0.6, torch.Generator().manual_seed(0))
    network = build(model, patterns)
    assert isinstance(network, PseudoInverseSequence if rule == "pseudo_inverse" else SequenceMemory)
    assert (network.kind, network.degree) == ("linear", 1)
    exact = bool(transitions_correct(network, patterns, torch.arange(30)).all())
    assert exact == (rule == "pseudo_inverse")
    assert model.scan_limit(60, 1000) == (120 if rule == "pseudo_inverse" else 1000)


@pytest.mark.parametrize("true_capacity", [0, 1, 7, 50, 333])
def test_search_capacity_finds_a_monotone_threshold(true_capacity):
    assert search_capacity(lambda p: p <= true_capacity, 20, 0.0, 10_000) == true_capacity
    assert search_capacity(lambda p: True, 20, 0.0, 100) == 100  # capped at the limit


def test_bad_params_exit_2_naming_the_key(compose_params, run_cli, capsys, tmp_path):
    params = hand_edit(compose_params(*TINY), "sequences.digits.models=[seqnet,nope]")
    assert run_cli("sequences", "--params", params, "--out", tmp_path / "out") == 2
    assert "sequences.digits.models" in capsys.readouterr().err
    params = hand_edit(compose_params(*TINY, name="p2.yaml"), "sequences.models.exp.kind=cubic")
    assert run_cli("sequences", "--params", params, "--out", tmp_path / "out") == 2
    assert "sequences.models.exp.kind" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
