"""E7, the continual stage: the replay buffer holds what it says, a slot memory forgets nothing while it has free
slots and its oldest task once full, backprop without rehearsal forgets task 1 where rehearsal keeps it (a planted
easy case), the summaries on a hand-made recall matrix, the stage on tiny params (the same bytes with one worker and
with two), the figure and its rows, and config errors naming their key."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
import yaml

from hebbdam.config import ConfigError, load_params
from hebbdam.experiments import continual as stage
from hebbdam.figures import continual as figure
from hebbdam.lit.continual import EpisodicConstraints
from hebbdam.memory import Power

from ..conftest import compose_file

TRAINING = stage.Training(
    lr=0.02, batch_size=8, steps=3, gain=3.0, cap=600, window=50, tolerance=0.02, floor=1e-3, epoch_updates=10
)
TINY = [
    "continual.seeds=2",
    "continual.dim=24",
    "continual.tasks=2",
    "continual.per_task=3",
    "continual.training.cap=200",
    "continual.training.window=40",
    "continual.training.epoch_updates=10",
    "~continual.arms.storkey",
    "~continual.arms.backprop_n2_replay",
    "~continual.arms.backprop_n4",
    "~continual.arms.backprop_n4_replay",
    "~continual.arms.backprop_n2_agem",
    "~continual.arms.backprop_n4_agem",
    "~continual.arms.backprop_n4_gem",
    "~continual.arms.backprop_n2_pseudo",
    "~continual.arms.backprop_n4_pseudo",
]


def settings(arm: stage.Arm, **sizes) -> stage.Settings:
    values = dict(seed=0, seeds=2, dim=48, tasks=3, per_task=4, layout="split", flip=0.1, max_sweeps=20)
    return stage.Settings(**{**values, **sizes}, training=TRAINING, arms=[arm], trainer={"accelerator": "cpu"})


def test_the_buffer_of_a_task_holds_the_first_patterns_of_every_earlier_task():
    patterns = torch.arange(3 * 4 * 2, dtype=torch.float32).view(3, 4, 2)
    assert torch.equal(stage.buffer_rows(patterns, 2, 1), torch.cat([patterns[0, :1], patterns[1, :1]]))
    assert stage.buffer_rows(patterns, 2, 0).shape == (0, 2)
    assert stage.buffer_rows(patterns, 0, 4).shape == (0, 2)  # nothing earlier to replay


def test_gem_keeps_one_episodic_memory_per_earlier_task_in_task_order():
    arm = stage.Arm(
        name="gem", memory="dense", rule="backprop", slots=8, separation=Power(3), rehearsal=2, method="gem"
    )
    patterns = stage.draw_tasks(settings(arm, tasks=4), 0).patterns
    objective = stage.Gradient(arm, 48, settings(arm, tasks=4), seed=0).objective(stage.buffer_rows(patterns, 3, 2))
    assert isinstance(objective, EpisodicConstraints)
    assert [episode.tolist() for episode in objective.episodes] == [patterns[t, :2].tolist() for t in range(3)]


def test_permuted_tasks_share_their_overlaps_and_split_tasks_do_not():
    arm = stage.Arm(name="hebb", memory="hopfield", rule="hebb")
    permuted = stage.draw_tasks(settings(arm, layout="permuted"), 0).patterns
    split = stage.draw_tasks(settings(arm), 0).patterns
    grams = [task @ task.T for task in permuted]
    assert all(torch.equal(gram, grams[0]) for gram in grams)
    assert not torch.equal(permuted[0], permuted[1])
    assert not torch.equal(split[0] @ split[0].T, split[1] @ split[1].T)


def test_a_slot_memory_forgets_nothing_while_it_has_free_slots_and_its_oldest_task_once_full():
    roomy = stage.Arm(name="slot", memory="dense", rule="slot", slots=12, separation=Power(4))
    result = stage.learn_sequence(stage.Job(roomy, 0, settings(roomy)))
    assert all(value == 1.0 for row in result["recall"] for value in row if value is not None)
    full = stage.Arm(name="slot", memory="dense", rule="slot", slots=8, separation=Power(4))
    recall = stage.learn_sequence(stage.Job(full, 0, settings(full)))["recall"]
    assert recall[0][1] == 1.0 and recall[0][2] < 0.5  # task 1 held until task 3 needed its slots
    assert recall[1][2] == 1.0 and recall[2][2] == 1.0  # the newest K patterns are the ones kept


def test_backprop_without_rehearsal_forgets_task_1_where_a_replay_buffer_keeps_it():
    """A planted easy case: two tasks of 3 patterns, D = 48, K = 32 units, F = x³, the whole first task replayed."""
    results = {}
    for rehearsal in (0, 3):
        arm = stage.Arm(
            name=f"bp{rehearsal}", memory="dense", rule="backprop", slots=32, separation=Power(3), rehearsal=rehearsal
        )
        results[rehearsal] = stage.learn_sequence(stage.Job(arm, 0, settings(arm, dim=48, tasks=2, per_task=3)))
    for result in results.values():
        assert all(fit["converged"] for fit in result["fits"]), result["fits"]
        assert result["recall"][0][0] == 1.0 and result["recall"][1][1] == 1.0
    assert results[3]["recall"][0][1] == 1.0
    assert results[0]["recall"][0][1] <= 0.34
    assert results[3]["fits"][1]["rows"] == 6 and results[0]["fits"][1]["rows"] == 3


def test_ewc_keeps_task_1_where_plain_training_forgets_it_and_a_too_strong_anchor_learns_nothing_new():
    """The planted easy case of the replay test: EWC's anchor, weighted by the recall's Fisher information, keeps task 1
    at λ = 300; at λ = 10⁵ task 2 is never learned (the anchor holds everything); without its Fisher weights (the
    empirical Fisher, which vanishes at a solved task) it would forget as plain training does."""
    sizes = dict(dim=48, tasks=2, per_task=3)
    plain = stage.Arm(name="bp", memory="dense", rule="backprop", slots=32, separation=Power(3))  # one name: one start
    arms = {"plain": plain, **{s: dataclasses.replace(plain, method="ewc", strength=s) for s in (300.0, 1e5)}}
    recall = {
        key: stage.learn_sequence(stage.Job(arm, 0, settings(arm, **sizes)))["recall"] for key, arm in arms.items()
    }
    assert recall["plain"][0] == [1.0, 0.0] and recall["plain"][1][1] == 1.0
    assert recall[300.0][0][1] == 1.0 and recall[300.0][1][1] == 1.0, recall
    assert recall[1e5][0][1] == 1.0 and recall[1e5][1][1] <= 0.34, recall


def test_pseudorehearsal_keeps_task_1_and_never_reads_a_stored_pattern():
    """The planted easy case of the replay test: 3 pseudo-items (the attractors the memory reaches from random states
    after task 1) replayed beside task 2 keep task 1, which plain training forgets; the earlier tasks' patterns are
    never read (a buffer of zeros in their place trains the same weights)."""
    sizes = dict(dim=48, tasks=2, per_task=3)
    plain = stage.Arm(name="bp", memory="dense", rule="backprop", slots=32, separation=Power(3))
    pseudo = dataclasses.replace(plain, method="pseudo", rehearsal=3)
    recall = {
        arm.method: stage.learn_sequence(stage.Job(arm, 0, settings(arm, **sizes)))["recall"] for arm in (plain, pseudo)
    }
    assert recall["plain"][0] == [1.0, 0.0] and recall["pseudo"][0] == [1.0, 1.0], recall
    tasks = stage.draw_tasks(settings(pseudo, **sizes), 0)
    weights = []
    for buffer in (tasks.patterns[0], torch.zeros(3, 48)):
        learner = stage.learner(stage.Job(pseudo, 0, settings(pseudo, **sizes)))
        learner.learn(tasks.patterns[0], tasks.patterns[0][:0])
        learner.learn(tasks.patterns[1], buffer)
        weights.append(learner.trainable.memories.detach().clone())
    assert torch.equal(*weights)


def test_one_restart_of_adam_leaves_a_plateau_that_was_the_optimisers_state(tmp_path):
    """E7's laptop settings, backprop n = 3, seed 0, task 1: without a restart the fit reads flat at loss 0.0126 (10×
    the floor) and stops "converged"; clearing Adam's state on that flat reading (a fresh Adam's first steps move
    every weight by about lr) takes the same fit to the floor: the plateau was the optimiser's, not the objective's."""
    settings = stage.parse_settings(load_params(compose_file(tmp_path / "params.yaml", [])))
    arm = {arm.name: arm for arm in settings.arms}["backprop_n3"]
    losses = {}
    for restarts in (0, 1):
        laptop = dataclasses.replace(settings, training=dataclasses.replace(settings.training, restarts=restarts))
        job = stage.Job(arm, 0, laptop)
        learner, tasks = stage.learner(job), stage.draw_tasks(laptop, 0)
        fit = learner.learn(tasks.patterns[0], tasks.patterns[0][:0])
        assert fit["converged"] and fit.get("restarts", 0) == restarts, fit
        losses[restarts] = fit["loss"]
    assert losses[0] > 10 * settings.training.floor
    assert losses[1] <= settings.training.floor


def test_final_recall_and_backward_transfer_of_a_hand_made_recall_matrix():
    recall = [[1.0, 0.5, 0.25], [None, 1.0, 0.5], [None, None, 1.0]]
    assert stage.final_recall(recall) == pytest.approx((0.25 + 0.5 + 1.0) / 3)
    assert stage.backward_transfer(recall) == pytest.approx(((0.25 - 1.0) + (0.5 - 1.0)) / 2)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from hebbdam.cli import main

    folder = tmp_path_factory.mktemp("continual")
    params = compose_file(folder / "params.yaml", TINY)
    out = folder / "one"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HEBBDAM_WORKERS", "1")
        assert main(["continual", "--params", str(params), "--out", str(out)]) == 0
    return params, out


def test_the_stage_records_every_arm_with_intervals_and_the_figure_draws(tiny_run):
    _, out = tiny_run
    metrics = {name: json.loads((out / name).read_text()) for name in figure.INPUTS}
    record = metrics["continual.json"]
    assert set(record["arms"]) == {
        "hebb", "slot", "backprop_n2", "backprop_n3", "backprop_n3_replay", "backprop_n3_agem", "backprop_n3_gem",
        "backprop_n3_ewc", "backprop_n3_pseudo",
    }  # fmt: skip
    assert set(record["method_effects"]) == {
        "backprop_n3_agem", "backprop_n3_gem", "backprop_n3_ewc", "backprop_n3_pseudo"
    }  # fmt: skip
    assert {e["without"] for e in record["method_effects"].values()} == {"backprop_n3"}
    assert set(record["rehearsal_effects"]) == {"backprop_n3_replay"}  # A-GEM's buffer is never replayed
    assert record["arms"]["hebb"]["locality"] == "local"
    assert record["arms"]["backprop_n3"]["locality"] == "nonlocal"
    for entry in record["arms"].values():
        for key in figure.KEYS:
            assert entry[key]["low"] <= entry[key]["value"] <= entry[key]["high"]
    assert record["arms"]["backprop_n3"]["training"]["fits"] == 2 * 2  # seeds × tasks
    assert "training" not in record["arms"]["slot"]
    assert set(record["rehearsal_effects"]) == {"backprop_n3_replay"}
    effect = record["rehearsal_effects"]["backprop_n3_replay"]
    assert effect["without"] == "backprop_n3"
    for key in ("buffer_final", "beyond_final", "beyond_gain"):  # 2 of 3 patterns replayed: one never is
        assert effect[key]["low"] <= effect[key]["value"] <= effect[key]["high"]
    assert set(record["vertex_effects"]) == {"backprop_n3_vs_backprop_n2"}  # the replay arm has one power only
    assert record["vertex_effects"]["backprop_n3_vs_backprop_n2"]["n_low"] == 2
    curves = metrics["continual_curves.json"]
    assert len(curves) == 9 * 3  # per arm: task 1 after 1 and 2, task 2 after 2
    rows = figure.comparisons(metrics)
    # rehearsal, beyond the buffer, A-GEM, GEM, EWC, pseudorehearsal, n2 → n3
    assert [row["source"] for row in rows] == [figure.SOURCE] * 7
    assert figure.section(metrics)[0].startswith("| arm |")
    assert figure.draw(metrics) is not None


def test_stage_repeats_bit_for_bit_with_one_worker_and_with_two(tiny_run, tmp_path, monkeypatch):
    """The sequences run through ``parallel.map_fits``: the same bytes in this process and in two workers."""
    from hebbdam.cli import main

    params, one = tiny_run
    monkeypatch.setenv("HEBBDAM_WORKERS", "2")
    assert main(["continual", "--params", str(params), "--out", str(tmp_path)]) == 0
    for name in figure.INPUTS:
        assert (tmp_path / name).read_bytes() == (one / name).read_bytes(), name


def edited(tmp_path, change) -> Path:
    """The real composition with ``change(section)`` applied to its ``continual`` section, written to a file."""
    params = compose_file(tmp_path / "params.yaml", [])
    content = yaml.safe_load(params.read_text())
    change(content["continual"])
    params.write_text(yaml.safe_dump(content))
    return params


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (lambda s: s["arms"]["backprop_n3_replay"].update(rehearsal=99), "continual.arms.backprop_n3_replay.rehearsal"),
        (lambda s: s["arms"]["hebb"].update(rehearsal=1), "continual.arms.hebb.rehearsal"),
        (lambda s: s["arms"]["slot"].pop("slots"), "continual.arms.slot.slots"),
        (lambda s: s["arms"]["hebb"].update(rule="backprop"), "continual.arms.hebb.memory"),
        (lambda s: s.update(layout="shuffled"), "continual.layout"),
        (lambda s: s.update(tasks=1), "continual.tasks"),
        (lambda s: s["arms"]["backprop_n3_agem"].update(rehearsal=0), "continual.arms.backprop_n3_agem.rehearsal"),
        (lambda s: s["arms"]["backprop_n3_pseudo"].update(rehearsal=0), "continual.arms.backprop_n3_pseudo.rehearsal"),
        (lambda s: s["arms"]["backprop_n3_ewc"].update(strength=0.0), "continual.arms.backprop_n3_ewc.strength"),
        (lambda s: s["arms"]["backprop_n3_ewc"].update(rehearsal=2), "continual.arms.backprop_n3_ewc.rehearsal"),
        (lambda s: s["arms"]["backprop_n3"].update(method="gom"), "continual.arms.backprop_n3.method"),
        (lambda s: s["arms"]["backprop_n3_gem"].update(rehearsal=0), "continual.arms.backprop_n3_gem.rehearsal"),
        (lambda s: s["arms"]["hebb"].update(method="ewc", strength=1.0), "continual.arms.hebb.method"),
        (lambda s: s["arms"]["storkey"].update(lr=0.01), "continual.arms.storkey.lr"),
        (lambda s: s["arms"]["backprop_n3_ewc"].update(lr=0.0), "continual.arms.backprop_n3_ewc.lr"),
        (lambda s: s["training"].update(restarts=-1), "continual.training.restarts"),
    ],
)
def test_a_bad_value_is_refused_naming_its_key(tmp_path, change, key):
    params = edited(tmp_path, change)
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        stage.parse_settings(load_params(params))


def test_no_verdict_on_a_rehearsal_comparison_whose_fits_did_not_all_converge():
    """The same gain gets ``direction reproduced`` when every fit reached its plateau and ``inconclusive`` when one
    stopped at the cap."""
    gain = {"value": 0.4, "low": 0.3, "high": 0.5}
    effect = {"without": "bp", "separation": "x^3", "bwt_gain": gain, "first_task_gain": gain, "converged": True}
    record = {"tasks": 3, "layout": "split", "per_task": 4, "rehearsal_effects": {"bp_replay": effect}}
    (converged,) = figure.comparisons({"continual.json": record})
    assert converged["verdict"] == "direction reproduced"
    record["rehearsal_effects"]["bp_replay"] = {**effect, "converged": False}
    (capped,) = figure.comparisons({"continual.json": record})
    assert capped["verdict"] == "inconclusive" and "cap" in capped["note"]


def test_the_recall_of_earlier_tasks_splits_into_the_replayed_patterns_and_the_rest():
    final = [[1, 0, 1], [0, 1, 1], [1, 1, 1]]  # the last task is never in a buffer
    assert stage.earlier_recall(final, 1, buffer=True) == pytest.approx(0.5)  # task 1: 1, task 2: 0
    assert stage.earlier_recall(final, 1, buffer=False) == pytest.approx(0.75)  # (0, 1) and (1, 1)
    assert stage.earlier_recall(final, 3, buffer=False) is None  # whole tasks replayed: no rest
    assert stage.earlier_recall(final, 0, buffer=False) == pytest.approx(4 / 6)


def run_of(recall: list[list], final: list[list[int]] | None = None) -> dict:
    return {"recall": recall, "final": final or [[1] * 2 for _ in recall], "fits": [], "seconds": 0.0}


def test_a_buffer_that_keeps_only_itself_gains_nothing_beyond_it():
    """Hand-made pairs of one seed each: with the buffer the replayed pattern (1 of 2) of every earlier task is kept
    and the other lost, as without the buffer, so the gain beyond the buffer is 0 while the buffer's recall is 1."""
    with_buffer = run_of([[1.0, 0.5, 0.5], [None, 1.0, 0.5], [None, None, 1.0]], [[1, 0], [1, 0], [1, 1]])
    without = run_of([[1.0, 0.0, 0.0], [None, 1.0, 0.0], [None, None, 1.0]], [[0, 0], [0, 0], [1, 1]])
    split = stage.buffer_split(1, [(with_buffer, without)] * 2, torch.Generator().manual_seed(0))
    assert split["buffer_final"]["value"] == 1.0
    assert split["beyond_final"]["value"] == 0.0 and split["beyond_gain"]["value"] == 0.0
    kept = run_of(with_buffer["recall"], [[1, 1], [1, 1], [1, 1]])  # a buffer that also kept the rest
    split = stage.buffer_split(1, [(kept, without)] * 2, torch.Generator().manual_seed(0))
    assert split["beyond_gain"]["value"] == 1.0
    whole = stage.buffer_split(2, [(with_buffer, without)] * 2, torch.Generator().manual_seed(0))
    assert whole["beyond_gain"] is None and whole["beyond_final"] is None


def test_forgetting_across_n_pairs_the_highest_power_with_the_lowest_of_the_same_buffer():
    """Three backprop arms without a buffer (n = 2, 3, 4) and one with (n = 3): one effect, n = 4 against n = 2, its
    BWT change the mean of the per-seed differences; the buffer arm alone has no partner."""

    def arm(n: int, rehearsal: int = 0) -> stage.Arm:
        name = f"bp{n}" + ("_replay" if rehearsal else "")
        return stage.Arm(name=name, memory="dense", rule="backprop", slots=8, separation=Power(n), rehearsal=rehearsal)

    arms = [arm(3), arm(4), arm(2), arm(3, rehearsal=1)]
    forget = {2: 0.0, 3: 0.5, 4: 0.75}  # recall of task 1 after task 2, per n
    runs = {a.name: [run_of([[1.0, forget[a.separation.n] + s / 8], [None, 1.0]]) for s in (0, 1)] for a in arms}
    entries = {a.name: {"training": {"converged": True}} for a in arms}
    with_arms = dataclasses.replace(settings(arms[0], tasks=2), arms=arms)
    effects = stage.vertex_effects(with_arms, runs, entries, torch.Generator().manual_seed(0))
    assert list(effects) == ["bp4_vs_bp2"]
    effect = effects["bp4_vs_bp2"]
    assert (effect["n_low"], effect["n_high"], effect["rehearsal"]) == (2, 4, 0)
    assert effect["bwt_change"]["value"] == pytest.approx(0.75)  # BWT −0.25 (n = 4) against −1 (n = 2), each seed
    assert effect["final_change"]["value"] == pytest.approx(0.75 / 2)
    assert effect["learned_change"]["value"] == 0.0  # every task learned whole at every n
    assert effect["converged"] is True


def test_the_rows_beyond_the_buffer_and_across_n_are_not_comparable_whatever_their_sign():
    """Both rows carry a published criterion that differs from ours, so the machinery gives "not comparable" even
    where our interval lies above 0; the rehearsal row itself keeps its sign verdict."""
    gain = {"value": 0.4, "low": 0.3, "high": 0.5}
    effect = {
        "without": "bp",
        "separation": "x^3",
        "bwt_gain": gain,
        "first_task_gain": gain,
        "buffer_final": {"value": 1.0, "low": 1.0, "high": 1.0},
        "beyond_final": gain,
        "beyond_gain": gain,
        "converged": True,
    }
    vertex = {"high": "bp4", "low": "bp2", "n_high": 4, "n_low": 2, "rehearsal": 0, "bwt_change": gain,
              "final_change": gain, "learned_change": gain, "converged": True}  # fmt: skip
    record = {
        "tasks": 3,
        "layout": "split",
        "per_task": 4,
        "rehearsal_effects": {"bp_replay": effect},
        "vertex_effects": {"bp4_vs_bp2": vertex},
    }
    rehearsal, beyond, across = figure.comparisons({"continual.json": record})
    assert (
        rehearsal["verdict"] == "direction reproduced"
        and "replayed patterns recalled at the end 1.00" in rehearsal["note"]
    )
    assert beyond["verdict"] == across["verdict"] == "not comparable"
    assert beyond["published_criterion"] and across["published_criterion"]
    assert across["interval"] == [0.3, 0.5] and "n = 2 to n = 4" in across["quantity"]
