"""The sparse stage: the information formula's two anchors (a memory returning its cue gets 0, a perfect memory the
pattern entropy), the stage on tiny params from the real conf/, the figure and its rows, and config errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import yaml

from hebbdam.config import ConfigError, load_params
from hebbdam.data.synthetic import modular, sparse_binary, sparse_cue
from hebbdam.experiments import sparse as stage
from hebbdam.figures import sparse as figure

from ..conftest import compose_file

TINY = [
    "sparse.trials=2",
    "sparse.dim=80",
    "sparse.codings=[0.5,0.1]",
    "~sparse.arms.storkey",
    "~sparse.arms.storkey_attractor",
    "~sparse.arms.delta_attractor",
    "~sparse.arms.backprop",  # its own tests below (a fit takes seconds)
    "sparse.holographic.dims=[64,128]",
    "sparse.holographic.items=200",
    "sparse.holographic.trials=2",
]


@pytest.mark.parametrize("code", [stage.Code(200, 0.05), stage.Code(200, 0.1, 20, 10), stage.Code(100, 0.5)])
def test_information_is_zero_for_the_cue_and_the_entropy_for_perfect_recall(code):
    patterns = code.draw(30, torch.Generator().manual_seed(0))
    cues = sparse_cue(patterns, 0.5, 0.0, torch.Generator().manual_seed(1))
    cue_loss = code.loss(patterns, cues)
    assert cue_loss > 0
    assert stage.retrieved_bits(30, code.entropy, cue_loss, code.loss(patterns, cues)) == 0.0
    assert code.loss(patterns, patterns) == 0.0
    assert stage.retrieved_bits(30, code.entropy, cue_loss, 0.0) == pytest.approx(30 * code.entropy)
    # a memory in between gets part of it: half the cue's damage repaired
    assert stage.retrieved_bits(30, code.entropy, cue_loss, cue_loss / 2) == pytest.approx(15 * code.entropy)


def test_entropy_of_the_codes_and_the_unit_loss_at_f_half_is_e8a_binary_entropy():
    assert stage.Code(400, 0.01).entropy == pytest.approx(400 * stage.binary_entropy(0.01))
    assert stage.Code(400, 0.1, 40, 10).entropy == pytest.approx(40 * math.log2(10))
    patterns = sparse_binary(200, 100, 0.5, torch.Generator().manual_seed(2))
    flipped = patterns.clone()
    flipped[:, :10] = 1 - flipped[:, :10]  # 10% of the bits flipped
    assert stage.unit_loss(patterns, flipped) == pytest.approx(100 * stage.binary_entropy(0.1), rel=0.05)
    modules = modular(100, 10, 4, torch.Generator().manual_seed(3))
    assert stage.modular_loss(modules, torch.zeros_like(modules), 10, 4) == pytest.approx(10 * 2.0)


@pytest.fixture(scope="module")
def record(tmp_path_factory):
    from hebbdam.cli import main

    params = compose_file(tmp_path_factory.mktemp("sparse") / "params.yaml", TINY)
    out = params.parent / "out"
    assert main(["sparse", "--params", str(params), "--out", str(out)]) == 0
    return {name: json.loads((out / name).read_text()) for name in figure.INPUTS}


def test_the_stage_measures_every_rule_and_sparse_codes_store_more_per_synapse(record):
    result = record["sparse.json"]
    one_step = {"willshaw", "covariance", "bcpnn", "delta", "pseudo_inverse", "pseudo_inverse_01"}
    attractor = {"willshaw_attractor", "covariance_attractor", "bcpnn_attractor", "pseudo_inverse_01_attractor"}
    assert set(result["arms"]) == one_step | attractor
    assert result["arms"]["delta"]["locality"] == "local"
    assert result["arms"]["pseudo_inverse_01"]["locality"] == "nonlocal"
    assert result["arms"]["pseudo_inverse"]["locality"] == "nonlocal"
    assert result["arms"]["willshaw"]["locality"] == "local"
    willshaw = result["arms"]["willshaw"]["codings"]
    assert willshaw["f0_1"]["information"]["value"] > willshaw["f0_5"]["information"]["value"]
    for arm in result["arms"].values():
        for entry in arm["codings"].values():
            info = entry["information"]
            assert 0.0 <= info["low"] <= info["value"] <= info["high"] < result["bounds"]["willshaw"]
    dims = result["holographic"]["dims"]
    assert dims["D128"]["K_c"] > dims["D64"]["K_c"]
    rows = figure.comparisons(record)
    assert any(r["quantity"].startswith("holographic") for r in rows)
    assert all(r["verdict"] == "not comparable" for r in rows if "best f" in r["quantity"])
    assert figure.draw(record) is not None


def _information(record, arm, coding="f0_1"):
    return record["sparse.json"]["arms"][arm]["codings"][coding]["information"]


def test_the_pseudo_inverse_of_the_0_1_code_beats_its_pm1_version_on_sparse_patterns(record):
    """At f = 0.1 the ±1 pseudo-inverse with zero threshold loses the sparse code's structure; written on the 0/1
    code with the threshold ½|c|/(f·D) it keeps it (D = 80: ≈ 0.061 against ≈ 0.027 bits per synapse)."""
    zero_one, bipolar = _information(record, "pseudo_inverse_01"), _information(record, "pseudo_inverse")
    assert zero_one["low"] > bipolar["high"]


@pytest.mark.parametrize("arm", ["covariance", "bcpnn", "pseudo_inverse_01"])
def test_attractor_recall_stores_more_than_one_step(record, arm):
    """Relaxing to a fixed point cleans up what one step leaves (D = 80, f = 0.1: covariance P₀.₉ ≈ 8 → 19, BCPNN
    ≈ 38 → 62, 0/1 pseudo-inverse ≈ 7 → 16); the record says which read-out each arm used."""
    arms = record["sparse.json"]["arms"]
    one, relaxed = arms[arm], arms[f"{arm}_attractor"]
    assert (one["sweeps"], relaxed["sweeps"]) == (1, 10)
    assert relaxed["codings"]["f0_1"]["exact"]["P_c_low"] > one["codings"]["f0_1"]["exact"]["P_c_high"]
    assert "attractor recall" in figure.criterion(relaxed) and "one step" in figure.criterion(one)


def edited(tmp_path, change) -> Path:
    """The real composition with ``change(section)`` applied to its ``sparse`` section, written to a file."""
    params = compose_file(tmp_path / "params.yaml", [])
    content = yaml.safe_load(params.read_text())
    change(content["sparse"])
    params.write_text(yaml.safe_dump(content))
    return params


def test_a_bad_coding_level_is_refused_naming_its_key(tmp_path):
    params = edited(tmp_path, lambda section: section.update(codings=[0.5, 1.5]))
    with pytest.raises(ConfigError, match="sparse.codings"):
        stage.parse_settings(load_params(params))


def test_an_arm_whose_rule_cannot_write_its_memory_is_refused(tmp_path):
    params = edited(tmp_path, lambda section: section["arms"]["bcpnn"].update(rule="willshaw"))
    with pytest.raises(ConfigError, match="sparse.arms.bcpnn.rule"):
        stage.parse_settings(load_params(params))


def test_an_unknown_backprop_option_or_a_backprop_arm_on_another_kind_is_refused(tmp_path):
    params = edited(tmp_path, lambda section: section["arms"]["backprop"]["options"].update(lr=0.1))
    with pytest.raises(ConfigError, match="sparse.arms.backprop.options.lr"):
        stage.parse_settings(load_params(params))
    params = edited(tmp_path, lambda section: section["arms"]["backprop"].update(memory="hopfield"))
    with pytest.raises(ConfigError, match="sparse.arms.backprop.memory"):
        stage.parse_settings(load_params(params))
    params = edited(tmp_path, lambda section: section["arms"]["backprop"]["options"].update(lrs=[0.1, -1]))
    with pytest.raises(ConfigError, match="sparse.arms.backprop.options.lrs"):
        stage.parse_settings(load_params(params))


def test_the_completion_surrogate_switches_on_exactly_the_units_the_projection_read_out_does():
    """The training objective's logits are positive where the scored read-out (θ = ½|c|/(f·D)) turns a unit on."""
    from hebbdam.lit.backprop import PairwiseWeights, SparseCompletion

    patterns = sparse_binary(50, 60, 0.1, torch.Generator().manual_seed(0))
    cues = sparse_cue(patterns, 0.5, 0.0, torch.Generator().manual_seed(1))
    weights = PairwiseWeights(60, init_std=0.3, seed=2)
    objective = SparseCompletion(0.1, 0.5)
    with torch.no_grad():
        surrogate = (objective.logits(weights, cues) > 0).float()
    assert 0 < surrogate.sum() < surrogate.numel()
    assert torch.equal(objective.export(weights).step(cues), surrogate)


BACKPROP_ARM = {
    "memory": "projection",
    "rule": "backprop",
    "loads": [0.02, 0.06, 0.18],
    "options": {"lrs": [0.03, 0.1, 0.3], "updates": 400, "window": 60, "tolerance": 0.02, "epoch_updates": 20},
}


def _backprop_record(tmp_path, options=None, files=("sparse.json",)):
    """The stage at D = 40, f = 0.1, 3 trials, with the backprop arm (its ``options`` updated) and the 0/1
    pseudo-inverse only: the record (or the bytes of ``files``, more than one asked)."""
    from hebbdam.cli import main

    def change(section):
        arm = {**BACKPROP_ARM, "options": {**BACKPROP_ARM["options"], **(options or {})}}
        section["arms"] = {"pseudo_inverse_01": section["arms"]["pseudo_inverse_01"], "backprop": arm}
        section.update(trials=3, dim=40, codings=[0.1])
        section["holographic"].update(dims=[64, 128], items=100, trials=2)

    params = edited(tmp_path, change)
    out = tmp_path / "out"
    assert main(["sparse", "--params", str(params), "--out", str(out)]) == 0
    if len(files) > 1:
        return [(out / file).read_bytes() for file in files]
    return json.loads((out / "sparse.json").read_text())


@pytest.fixture(scope="module")
def backprop_record(tmp_path_factory):
    return _backprop_record(tmp_path_factory.mktemp("sparse_backprop"))


def test_converged_backprop_stores_more_per_synapse_than_the_pseudo_inverse_on_the_same_read_out(backprop_record):
    """Backprop trains the very W the 0/1 pseudo-inverse writes, on the criterion (completion from half cues): at
    D = 40, f = 0.1 it restores more bits per synapse and keeps more patterns at 90%; the record says how its fits
    stopped (``status`` "converged" only when none stopped on the cap)."""
    arms = backprop_record["arms"]
    trained, projection = arms["backprop"], arms["pseudo_inverse_01"]
    assert trained["locality"] == "nonlocal" and trained["memory"] == projection["memory"] == "projection"
    mine, theirs = trained["codings"]["f0_1"], projection["codings"]["f0_1"]
    assert mine["information"]["low"] > theirs["information"]["high"]
    assert mine["exact"]["P_c"] > (theirs["exact"]["P_c"] or 0.0)
    training = mine["training"]
    assert training["fits"] % 3 == 0 and training["fits"] >= 9  # three seeded trials per grid point
    assert (training["status"] == "converged") == (training["fits_not_converged"] == 0 and training["converged"])
    assert training["fits_not_converged"] < training["fits"]  # most fits reach their plateau before the cap
    assert training["lr"] in training["lrs_tried"] and len(training["sweep"]) >= 3
    assert 0 < training["updates_median"] <= training["updates_max"] <= 400


def test_a_backprop_fit_stopped_after_a_few_updates_is_flagged_not_converged(tmp_path):
    """The planted short fit: a cap of 10 updates stops every fit before its plateau, and the record says so, fit by
    fit (the sweep's and every trial of the grid's)."""
    record = _backprop_record(tmp_path, {"updates": 10})
    training = record["arms"]["backprop"]["codings"]["f0_1"]["training"]
    assert training["status"] == "not converged" and not training["converged"]
    assert training["fits_not_converged"] == training["fits"] > 0
    assert training["updates_max"] == 10
    assert all(not fit["converged"] and fit["updates"] == 10 for fit in training["sweep"])
    grid = training["grid"]
    assert sum(len(point["updates"]) for point in grid) == training["fits"]
    assert all(u == 10 for point in grid for u in point["updates"]) and not any(c for p in grid for c in p["converged"])
    assert training["updates_total"] == 10 * (training["fits"] + len(training["sweep"]))


def test_the_backprop_fits_repeat_bit_for_bit_with_one_or_two_workers(tmp_path, monkeypatch):
    """The sweep's fits and every grid point's trials run as independent fits (``hebbdam.parallel.map_fits``): the
    record and curves are identical whether one process or two compute them (short fits: identity, not
    convergence, is tested)."""
    short = {"lrs": [0.03, 0.1], "updates": 40, "window": 20, "epoch_updates": 10}
    outputs = []
    for workers in ("1", "2"):
        monkeypatch.setenv("HEBBDAM_WORKERS", workers)
        folder = tmp_path / f"workers{workers}"
        folder.mkdir()
        outputs.append(_backprop_record(folder, short, ("sparse.json", "sparse_curves.json")))
    assert outputs[0] == outputs[1]
    training = json.loads(outputs[0][0])["arms"]["backprop"]["codings"]["f0_1"]["training"]
    assert training["fits"] >= 9 and len(training["sweep"]) >= 2


@pytest.mark.parametrize("exact", [[1.0, 1.0, 0.95], [0.5, 0.2, 0.1]])
def test_every_null_estimate_of_a_censored_arm_says_which_side_of_the_grid_it_lies_beyond(exact):
    """A curve that never crosses 0.9 inside the grid (above it, or below it) nulls P_c, its interval and its bits:
    the gate reads each as a censored estimate on the same side, never as "null without reason"."""
    from hebbdam.gate import Censored, flatten, value_of
    from hebbdam.settings.sparse import Arm

    points = [
        {"patterns": p, "exact": f, "exact_trials": [f, f, f], "information_trials": [0.1, 0.1, 0.1]}
        for p, f in zip([4, 8, 16], exact, strict=True)
    ]
    arm = Arm(name="willshaw", memory="willshaw", rule="willshaw")
    entry = stage.summarise(arm, stage.Code(100, 0.5), points, torch.Generator().manual_seed(0))
    leaves = flatten(entry)
    side = "above_grid" if exact[0] >= 0.9 else "below_grid"
    for key in ("P_c", "P_c_low", "P_c_high", "bits", "bits_low", "bits_high"):
        value = value_of(leaves, f"exact.{key}")
        assert isinstance(value, Censored) and value.side == side, (key, value)


@pytest.mark.parametrize("memory, rule", [("hopfield", "hebb"), ("bcpnn", "bcpnn")])
def test_a_binary_or_modular_kind_returns_its_stored_0_1_patterns_from_themselves(memory, rule):
    """What ``recall`` reads from the registry: a ±1 kind (``MemoryKind.binary``, Hopfield) stores and reads the 0/1
    code as ±1 and answers in 0/1; a modular kind (``MemoryKind.modular``, BCPNN) gets a code of one unit per
    hypercolumn and ends on each hypercolumn's winner. Three patterns, each read from itself, come back unchanged."""
    from hebbdam.settings.sparse import Arm

    code = stage.code_for(memory, 64, 0.25)
    generator = torch.Generator().manual_seed(0)
    if code.modules:
        patterns = modular(3, code.modules, code.units, generator)
    else:
        patterns = sparse_binary(3, 64, code.coding, generator)
    out = stage.recall(Arm(name=memory, memory=memory, rule=rule), code, patterns, patterns.clone())
    assert torch.equal(out, patterns)
