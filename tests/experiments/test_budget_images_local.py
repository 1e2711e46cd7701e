"""E8b's two strongest Hebbian contenders on images: K BCPNN hidden units read as DAM units (their weights the
log-odds of their traces, their keys the images they stand for; a single stored image recovered from its half cue)
and the sparse race's best local rule, Willshaw's clipped pairwise memory of the binarised images (clipped weights, a
half cue completed exactly where an unclipped sum would add a unit; both masking conventions the same cue); the
pairwise arm kept out of the equal-K verdicts; config errors."""

from __future__ import annotations

import pytest
import torch

from hebbdam.config import load_params
from hebbdam.errors import HebbdamError
from hebbdam.experiments import budget_images as e8b
from hebbdam.figures import budget_images as figure
from hebbdam.memory import Exponential, Power
from hebbdam.settings.budget_images import BCPNN_DEFAULTS

from ..conftest import compose_file

ARMS = "budget.images.arms"
BINARY = e8b.Condition(name="binary_exp", version="binary", separation=Exponential(1.0))
N3 = e8b.Condition(name="binary_n3", version="binary", separation=Power(3, rectified=True))
MASKINGS = ("background", "zero")


def _bottom_half(dim: int) -> torch.Tensor:
    hidden = torch.zeros(dim, dtype=torch.bool)
    hidden[dim // 2 :] = True
    return hidden


def _sparse_images(count: int, dim: int, seed: int) -> torch.Tensor:
    """(count, dim) centred binary images, about 20% of the pixels on (+1), the rest background (-1)."""
    on = torch.rand(count, dim, generator=torch.Generator().manual_seed(seed)) < 0.2
    return torch.where(on, 1.0, -1.0)


# BCPNN hidden units ------------------------------------------------------------------------------------------------
def test_bcpnn_unit_weights_are_the_log_odds_of_their_traces_and_their_keys_the_images_they_stand_for():
    """After learning on a tiny set, the layer's weights are log(p_ij/(p_i p_j)) and its biases log p_j of the final
    traces (floored at ε, ε²), and the arm's keys = values = 2 p_ij/p_j − 1 of the pixels' "on" units. A BCPNN
    without its log (the planted break) fails the first assertion."""
    images = _sparse_images(5, 16, seed=1)
    options = {**BCPNN_DEFAULTS, "epochs": 3}
    traces = e8b.bayesian_traces(images, 4, options, seed=2)
    floor = options["floor"]
    p_i, p_j = traces.p_i.clamp_min(floor), traces.p_j.clamp_min(floor)
    expected = (traces.p_ij.clamp_min(floor * floor) / torch.outer(p_i, p_j)).log()
    layer = traces.layer(e8b.BayesianLayer(minicolumns=4, **{k: options[k] for k in e8b.LAYER_KEYS}))
    torch.testing.assert_close(layer.weights, expected)
    torch.testing.assert_close(layer.bias, p_j.log())
    units = e8b.bayesian_units(images, 4, options, seed=2)
    means = (traces.p_ij[:16] / traces.p_j).clamp(0, 1).T
    torch.testing.assert_close(units.keys.double(), 2 * means - 1)
    torch.testing.assert_close(units.values, units.keys)
    assert tuple(units.keys.shape) == (4, 16)


@pytest.mark.parametrize("condition", [BINARY, N3], ids=["exp", "n3"])
@pytest.mark.parametrize("masking", MASKINGS)
def test_a_single_stored_image_is_recovered_by_bcpnn_units_from_its_own_half_cue(condition, masking):
    """One stored image (D = 784, 15% on): every unit stands for it (its keys' signs are the image), the unit that
    never wins included (p_j decays below ε; its p_ij with it, so it keeps its start instead of turning blank, which a
    background-hidden cue would match best: the planted break of flooring p_j fails here), and the half cue
    completes it."""
    image = torch.where(torch.rand(1, 784, generator=torch.Generator().manual_seed(0)) < 0.15, 1.0, -1.0)
    traces = e8b.bayesian_traces(image, 16, BCPNN_DEFAULTS, seed=4)
    assert float(traces.p_j.min()) < BCPNN_DEFAULTS["floor"]  # a unit lost every competition
    units = e8b.bayesian_units(image, 16, BCPNN_DEFAULTS, seed=4)
    assert bool((units.keys.sign() == image).all())
    recovered, _ = e8b.stored_recovered(units, e8b.Task(image, condition, masking, _bottom_half(784)), steps=1)
    assert recovered.tolist() == [True]


# Willshaw's pairwise memory -----------------------------------------------------------------------------------------
def _willshaw(images: torch.Tensor) -> e8b.Clipped:
    arm = e8b.Arm(name="willshaw", rule="willshaw", units=[1], conditions=["binary_exp"])
    task = e8b.Task(images, BINARY, "background", _bottom_half(images.shape[1]))
    memory = e8b.fill(arm, 1, task, seed=0, settings=_TRAINER)
    assert isinstance(memory, e8b.Clipped)
    return memory


class _Trainer:
    trainer: dict = {}


_TRAINER = _Trainer()


@pytest.mark.parametrize("masking", MASKINGS)
def test_a_single_stored_image_is_recovered_by_willshaw_from_its_own_half_cue(masking):
    image = _sparse_images(1, 64, seed=5)
    memory = _willshaw(image)
    recovered, _ = e8b.stored_recovered(memory, e8b.Task(image, BINARY, masking, _bottom_half(64)), steps=1)
    assert recovered.tolist() == [True]


def test_willshaw_weights_are_clipped_and_a_half_cue_is_completed_where_an_unclipped_sum_adds_a_unit():
    """Pixels 0-3 visible, 4-7 hidden. Image A = {0, 1, 4, 5}; B = {0, 6} and C = {0, 2, 6} connect pixel 6 to 0
    twice. A's cue {0, 1} (|c| = 2): clipped, pixel 6 sums 1 < 2 and stays off, so A comes back exactly (both masking
    conventions: the same cue); an unclipped sum (the planted break) reaches 2 and adds pixel 6."""
    images = -torch.ones(3, 8)
    for row, on in enumerate(([0, 1, 4, 5], [0, 6], [0, 2, 6])):
        images[row, on] = 1.0
    memory = _willshaw(images)
    assert set(memory.weights.unique().tolist()) <= {0.0, 1.0}
    assert memory.weights[0, 6] == 1.0
    for masking in MASKINGS:
        cue = e8b.masked(images[:1], _bottom_half(8), masking)
        out = e8b.complete(memory, cue, BINARY.separation, steps=1, binary=True)
        torch.testing.assert_close(out, images[:1])


# the recurrent BCPNN of the images' on/off code --------------------------------------------------------------------
def _recurrent_bcpnn(images: torch.Tensor) -> e8b.Modular:
    arm = e8b.Arm(
        name="bcpnn_recurrent", rule="bcpnn", units=[1], conditions=["binary_exp"], options={"floor": 1e-4, "gain": 1.0}
    )
    task = e8b.Task(images, BINARY, "zero", _bottom_half(images.shape[1]))
    memory = e8b.fill(arm, 1, task, seed=0, settings=_TRAINER)
    assert isinstance(memory, e8b.Modular)
    return memory


def test_the_on_off_code_makes_a_shown_pixel_one_hot_and_a_pixel_at_zero_no_input():
    code = e8b.modular_code(torch.tensor([[1.0, -1.0, 0.0]]))
    assert code.tolist() == [[1.0, 0.0, 0.0, 1.0, 0.0, 0.0]]


def test_recurrent_bcpnn_weights_are_the_log_odds_of_the_on_off_code_and_its_budget_is_the_code_squared():
    """w_ij = log(p_ij / (p_i p_j)) and b_j = log p_j of the 2D on/off units, estimated from the P stored images (the
    floor ε only where a pair never fires together); (2D)² + 2D parameters whatever K."""
    images = _sparse_images(5, 16, seed=2)
    memory = _recurrent_bcpnn(images).memory
    code = e8b.modular_code(images.double())
    p, pij = code.mean(0), code.T @ code / code.shape[0]
    seen = pij > 0
    torch.testing.assert_close(
        memory.weights.double()[seen], (pij / torch.outer(p, p)).log()[seen], rtol=1e-5, atol=1e-5
    )
    torch.testing.assert_close(memory.bias.double(), p.clamp(min=1e-4).log(), rtol=1e-5, atol=1e-5)
    arm = e8b.Arm(name="b", rule="bcpnn", units=[8], conditions=["binary_exp"], options={"floor": 1e-4, "gain": 1.0})
    assert arm.budget == "pairwise" and arm.parameters(8, 16) == arm.parameters(64, 16) == 32 * 32 + 32


def test_the_recurrent_bcpnn_completes_the_half_cues_of_its_stored_images_at_zero_masking():
    """Six stored sparse images, the bottom half hidden at 0 (no input): in one step (each pixel the winner of its
    hypercolumn) every one is recovered, its shown half kept and at most 1 of the 192 hidden pixels wrong. Without
    the log (weights p_ij/(p_i p_j), the planted break: supports are sums of positive ratios, no evidence against a
    value) 2 of the 6 are lost and 23 hidden pixels are wrong."""
    images = _sparse_images(6, 64, seed=7)
    memory = _recurrent_bcpnn(images)
    recovered, _ = e8b.stored_recovered(memory, e8b.Task(images, BINARY, "zero", _bottom_half(64)), steps=1)
    assert recovered.all()
    out = e8b.complete(memory, e8b.masked(images, _bottom_half(64), "zero"), BINARY.separation, 1, binary=True)
    torch.testing.assert_close(out[:, :32], images[:, :32])
    assert int((out != images).sum()) <= 1


# the record and the verdicts ---------------------------------------------------------------------------------------
def _entry(k: int, p09: float | None, parameters: int) -> dict:
    outside = None if p09 is not None else {"side": "below_grid", "load": k, "fraction": 0.5}
    return {"K": k, "parameters": parameters, "P_0.9": p09, "P_0.9_low": p09, "P_0.9_high": p09, "P_0.9_outside":
            outside, "curve": [{"P": k, "stored": 0.5, "held_out": 0.0}], "max_recalled": 1.0, "P_half": None,
            "P_half_outside": {"side": "below_grid", "load": k}}  # fmt: skip


def test_a_pairwise_arm_is_its_own_named_row_and_never_a_candidate_at_equal_k():
    """Willshaw's D² memory with a P_0.9 far above the K-unit arms' is not the best local arm at K (its K only
    anchors its P grid): the verdict compares prototype with backprop, and the pairwise row is named with its D²."""
    by = {"K16": _entry(16, None, 16 * 64)}
    record = {
        "masking": {"zero": 0.0},
        "conditions": {"binary_exp": {}},
        "arms": {
            "prototype": {"rule": "prototype", "locality": "local", "budget": "units", "conditions":
                          {"binary_exp": {"zero": {"K16": _entry(16, 18.0, 16 * 64)}}}},
            "willshaw": {"rule": "willshaw", "locality": "local", "budget": "pairwise", "conditions":
                         {"binary_exp": {"zero": {"K16": _entry(16, 500.0, 64 * 64)}}}},
            "backprop": {"rule": "backprop", "locality": "nonlocal", "budget": "units", "conditions":
                         {"binary_exp": {"zero": {**by, "K16": _entry(16, 60.0, 16 * 64)}}}},
        },
    }  # fmt: skip
    names = [c.name for c in figure.candidates(record, "binary_exp", "zero", 16)]
    assert names == ["prototype", "backprop"]
    (row,) = figure.verdicts(record)
    assert row["local"]["arm"] == "prototype"
    (line,) = figure.pairwise_lines(record)
    assert "willshaw" in line and "4,096 parameters" in line and "not at equal budget" in line


# config -----------------------------------------------------------------------------------------------------------
def test_a_willshaw_arm_on_grey_images_is_refused(tmp_path):
    with pytest.raises(HebbdamError, match=r"budget\.images\.arms\.willshaw\.conditions"):
        e8b.parse_settings(load_params(compose_file(tmp_path / "p.yaml", [f"{ARMS}.willshaw.conditions=[grey_exp]"])))


def test_bcpnn_units_that_do_not_fill_whole_hypercolumns_are_refused(tmp_path):
    overrides = [f"{ARMS}.bcpnn.options.hypercolumns=3"]
    with pytest.raises(HebbdamError, match=r"budget\.images\.arms\.bcpnn\.units"):
        e8b.parse_settings(load_params(compose_file(tmp_path / "p.yaml", overrides)))


# what fill reads from the rule catalogue (RuleInfo.keyed, RuleInfo.normed_units) -----------------------------------
def _filled(rule: str, units: int, images: torch.Tensor, **options) -> e8b.Units:
    arm = e8b.Arm(name=rule, rule=rule, units=[units], conditions=["binary_exp"], options=options)
    memory = e8b.fill(arm, units, e8b.Task(images, BINARY, "zero", _bottom_half(images.shape[1])), 0, _TRAINER)
    assert isinstance(memory, e8b.Units)
    return memory


def test_fill_reads_keyed_slots_through_their_keys_and_normed_units_scaled_to_one():
    """Pseudo-inverse slots (``keyed``): values = the K images written, keys = their dual basis, not the images;
    K&H units (``normed_units``): keys = values, each row's largest |entry| exactly 1; plain slots: the images."""
    generator = torch.Generator().manual_seed(4)
    images = torch.where(torch.rand(12, 64, generator=generator) > 0.5, 1.0, -1.0)
    keyed = _filled("pseudo_inverse_slots", 5, images)
    assert torch.equal(keyed.values, images[:5]) and not torch.allclose(keyed.keys, images[:5])
    normed = _filled("krotov_hopfield", 6, images, epochs=2, batch_size=4)
    assert torch.equal(normed.keys, normed.values)
    torch.testing.assert_close(normed.keys.abs().amax(1), torch.ones(6))
    plain = _filled("slot", 5, images)
    assert torch.equal(plain.keys, images[:5]) and torch.equal(plain.values, images[:5])


def test_the_blank_cue_floor_counts_exactly_the_images_with_little_ink_in_their_hidden_half():
    """Returning the query with its hidden half blank: Σ(x - out)² is the count of on-pixels in the hidden half, so
    an image passes exactly when that count is within the threshold (D = 64: 50·64/784 ≈ 4.08)."""
    dim = 64
    images = -torch.ones(4, dim)
    for row, ink in enumerate((0, 4, 5, 20)):  # on-pixels in the hidden (bottom) half
        images[row, dim // 2 : dim // 2 + ink] = 1.0
    images[:, :8] = 1.0  # ink in the shown half costs nothing
    floor = e8b.blank_cue_floor(e8b.Images(images, images[:2], _bottom_half(dim)), e8b.error_threshold(dim))
    assert floor == {"held_out": 1.0, "train": 0.5}
