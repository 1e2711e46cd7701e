"""E8b (real images in a memory of K hidden units): the prototype and pseudo-inverse-slot rules, the recall, the
stored-set criterion (an image never written is not recalled by a neighbour), backprop's plateau, the verdict per K, a
tiny stage run on digits (the keep-K law, both masking conventions, censored estimates with their reason, a backprop
arm capped at 10 updates flagged, repeatability) and config errors; and the reason E8a records for a capacity outside
its grid."""

from __future__ import annotations

import json

import pytest
import torch

from hebbdam.experiments import budget_images as e8b
from hebbdam.memory import Exponential, Power
from hebbdam.memory.core import separation_weights
from hebbdam.rules import get_rule
from hebbdam.rules.prototypes import projection_keys, prototype_units

from ..conftest import compose_file

ARMS = "budget.images.arms"
TINY = [
    "budget.images.dataset=digits",
    "budget.images.held_out=100",
    "budget.images.ratios=[1,1.5,2,4]",
    "budget.images.seeds=2",
    "budget.images.bootstrap=50",
    "~budget.images.conditions.grey_exp",
    f"{ARMS}.slot.units=[8,32]",
    f"{ARMS}.pseudo_inverse.units=[8]",
    f"{ARMS}.prototype.units=[8]",
    f"{ARMS}.krotov_hopfield.units=[8]",
    f"{ARMS}.krotov_hopfield.options.epochs=2",
    f"{ARMS}.bcpnn.units=[8]",
    f"{ARMS}.bcpnn.options.epochs=5",
    f"{ARMS}.bcpnn.ratios_below=[0.5]",
    f"{ARMS}.willshaw.units=[8]",
    f"{ARMS}.backprop.units=[8]",
    f"{ARMS}.backprop.options.cap=10",  # planted: stopped after 10 updates, short of the 100-update plateau window
    f"{ARMS}.backprop.options.lrs=[0.003,0.01,0.03]",
]


# the rules ---------------------------------------------------------------------------------------------------------
def steps(rule, images: torch.Tensor, epochs: int, batch_size: int) -> torch.Tensor:
    """The rule's learning state after ``epochs`` passes in batches, before ``finalize`` (counts still attached)."""
    state = rule.initial(images.shape[1]).to(images.dtype)
    for _ in range(epochs):
        for start in range(0, images.shape[0], batch_size):
            state = rule.step(state, images[start : start + batch_size])
    return state


def test_each_prototype_is_the_mean_of_the_images_it_won():
    """Three tight, far-apart clusters, one of each first: every unit ends at its cluster's exact mean."""
    generator = torch.Generator().manual_seed(0)
    centres = torch.tensor([[4.0, 0.0, 0.0], [0.0, 4.0, 0.0], [0.0, 0.0, 4.0]], dtype=torch.float64)
    labels = torch.cat([torch.arange(3), torch.randint(3, (57,), generator=generator)])
    points = centres[labels] + 0.1 * torch.randn(60, 3, generator=generator, dtype=torch.float64)
    rule = get_rule("prototype", units=3)
    units = rule.fit(points, epochs=1, batch_size=7)
    assert units.shape == (3, 3)  # finalize drops the win counts: the written tensor is the hidden units (K, D)
    counts = steps(rule, points, 1, 7)[:, -1]
    for unit in range(3):
        won = points[labels == unit]
        torch.testing.assert_close(units[unit], won.mean(0), rtol=0, atol=1e-12)
        assert counts[unit] == won.shape[0]


def test_prototype_counts_weight_the_units_to_the_sum_of_every_image_seen():
    """Whatever the assignment: Σ_μ n_μ ξ_μ = Σ_b x_b over every image seen (each unit is the mean of its wins)."""
    generator = torch.Generator().manual_seed(1)
    images = torch.rand(50, 6, generator=generator, dtype=torch.float64)
    state = steps(get_rule("prototype", units=4), images, epochs=2, batch_size=3)
    counts = state[:, -1]
    assert counts.sum() == 100
    torch.testing.assert_close(counts @ prototype_units(state), 2 * images.sum(0), rtol=1e-12, atol=1e-10)


def test_pseudo_inverse_keys_are_the_dual_basis_of_the_slots():
    slots = torch.where(torch.rand(5, 40, generator=torch.Generator().manual_seed(2)) > 0.5, 1.0, -1.0).double()
    keys = projection_keys(slots)
    torch.testing.assert_close(keys @ slots.T, 40 * torch.eye(5, dtype=torch.float64), rtol=0, atol=1e-9)
    rule = get_rule("pseudo_inverse_slots")
    assert (rule.locality, rule.target) == ("nonlocal", "slots")
    torch.testing.assert_close(rule.fit(slots, batch_size=2), keys)


def test_a_sharp_memory_returns_the_nearest_slot_and_a_flat_one_blends():
    generator = torch.Generator().manual_seed(3)
    slots = torch.where(torch.rand(6, 64, generator=generator) > 0.5, 1.0, -1.0)
    slots[:, :32] = -1.0  # a shared background, as in images: every overlap is positive
    units = e8b.Units(slots, slots)
    queries = slots.clone()
    queries[:, 56:] = -1.0  # the last pixels hidden
    sharp = e8b.complete(units, queries, Exponential(64.0 * 8), steps=1, binary=False)
    torch.testing.assert_close(sharp, slots)
    weights = separation_weights(queries @ slots.T / 64, Power(3, rectified=True))
    torch.testing.assert_close(weights.sum(-1), torch.ones(6))
    assert bool((weights > 0).all() & (weights < 0.9).all())  # n = 3 mixes every unit
    assert bool((weights.argmax(-1) == torch.arange(6)).all())  # each query's own slot weighs most


# the stored-set criterion, the plateau, the verdict ----------------------------------------------------------------
def _slot_task(masking: str = "zero") -> tuple[e8b.Units, e8b.Task]:
    """20 random ±1 images (D = 64, no two alike), K = 8 slots written (the first 8), image 10 planted 2 visible pixels
    away from slot 0, so the slot memory's output for image 10 is slot 0, within the threshold (4.08 pixels) of it."""
    generator = torch.Generator().manual_seed(5)
    images = torch.where(torch.rand(20, 64, generator=generator) > 0.5, 1.0, -1.0)
    images[10] = images[0]
    images[10, :2] *= -1
    hidden = torch.zeros(64, dtype=torch.bool)
    hidden[32:] = True
    condition = e8b.Condition(name="binary_exp", version="binary", separation=Exponential(1.0))
    return e8b.Units(images[:8], images[:8]), e8b.Task(images, condition, masking, hidden)


def test_an_image_never_written_is_not_recalled_by_the_slot_that_lies_near_it():
    """Keep K of P: the stored-set criterion gives exactly the K written images (K/P); the threshold alone also
    credits image 10, which was never written, because slot 0 lies within the threshold of it."""
    units, task = _slot_task()
    recovered, within = e8b.stored_recovered(units, task, steps=1)
    assert recovered.tolist() == [True] * 8 + [False] * 12
    assert within.nonzero().flatten().tolist() == [*range(8), 10]


def test_the_masking_convention_sets_the_hidden_pixels():
    units, task = _slot_task("background")
    queries = e8b.masked(task.stored, task.hidden, "background")
    assert bool((queries[:, 32:] == -1).all()) and torch.equal(queries[:, :32], task.stored[:, :32])
    assert bool((e8b.masked(task.stored, task.hidden, "zero")[:, 32:] == 0).all())


def _completion_fit(cap: int, patience: int = 40) -> dict:
    from hebbdam.lit.backprop import BackpropModule, MemoryMatrix, fit_until_plateau

    _, task = _slot_task()
    memory = MemoryMatrix(8, 64, Exponential(1.0 / 64), init_std=0.5, seed=0)
    objective = e8b.Completion(task.hidden, Exponential(1.0 / 64), steps=1, masking="zero")
    module = BackpropModule(memory, objective, lr=0.03, seed=0)
    return fit_until_plateau(module, task.stored, 20, cap, patience, 0.01, None, updates_per_epoch=20)


def test_backprop_stopped_after_ten_updates_reads_not_converged_and_with_room_reaches_its_plateau():
    short, room = _completion_fit(cap=10), _completion_fit(cap=5000)
    assert (short["updates"], short["converged"]) == (10, False)
    assert room["converged"] is True and 40 < room["updates"] < 5000
    assert room["loss"] < short["loss"]


def _annealed_units(anneal: float, cap: int) -> torch.Tensor:
    """(8, 64) units of a random-start backprop fit of the slot task, Adam at lr 0.03 × ``anneal`` per epoch of 20
    updates, stopped after ``cap`` updates (the plateau's window longer than the cap)."""
    from types import SimpleNamespace

    _, task = _slot_task()
    options = {**e8b.BACKPROP_DEFAULTS, "cap": cap, "patience": 1000, "batch_size": 20, "anneal": anneal}
    arm = e8b.Arm(name="backprop", rule="backprop", units=[8], options=options)
    settings = SimpleNamespace(trainer=None, steps=1)
    return e8b.train_backprop(arm, 8, task, 0, 0.03, "random", settings).trained.keys


def test_the_lr_anneals_after_every_check_of_the_plateau():
    """anneal 1e-9: after the first 20 updates the lr is ~0, so 20 more change nothing; anneal 1: they do."""
    frozen = [_annealed_units(1e-9, cap) for cap in (20, 40)]
    torch.testing.assert_close(frozen[0], frozen[1], atol=1e-6, rtol=0)
    constant = [_annealed_units(1.0, cap) for cap in (20, 40)]
    torch.testing.assert_close(constant[0], frozen[0])
    assert float((constant[1] - constant[0]).abs().max()) > 1e-3


def _record(local: tuple, nonlocal_: tuple, converged: bool | None) -> dict:
    """A record with one local and one nonlocal arm (backprop when ``converged`` is not None) at K = 16."""

    def arm(locality: str, values: tuple, training: bool | None) -> dict:
        entry = {"K": 16, "P_0.9": values[0], "P_0.9_low": values[1], "P_0.9_high": values[2]}
        if training is not None:
            entry["training"] = {"converged": training}
        return {"locality": locality, "conditions": {"c": {"zero": {"K16": entry}}}}

    return {
        "conditions": {"c": {}},
        "masking": {"zero": 0.0},
        "arms": {"slot": arm("local", local, None), "backprop": arm("nonlocal", nonlocal_, converged)},
    }


@pytest.mark.parametrize(
    ("local", "nonlocal_", "converged", "verdict"),
    [
        ((20, 19, 21), (10, 9, 11), True, "local ahead"),
        ((20, 19, 21), (10, 9, 11), False, "not converged"),
        # ahead but unconverged: training on can lower the criterion too (the loss trained is not the criterion)
        ((10, 9, 11), (20, 19, 21), False, "not converged"),
        ((10, 9, 11), (20, 19, 21), True, "nonlocal ahead"),
        ((20, 15, 21), (18, 17, 25), True, "not resolved"),
    ],
)
def test_the_verdict_per_k_reads_the_intervals_and_backprop_convergence(local, nonlocal_, converged, verdict):
    from hebbdam.figures import budget_images as figure

    (row,) = figure.verdicts(_record(local, nonlocal_, converged))
    assert (row["K"], row["masking"], row["verdict"]) == (16, "zero", verdict)
    assert row["local"]["arm"] == "slot" and row["nonlocal"]["arm"] == "backprop"


# the stage --------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def images_run(tmp_path_factory, prepared):
    """The tiny stage run in this process (HEBBDAM_WORKERS=1; the two-worker run is compared with it below)."""
    from hebbdam.cli import main

    root = tmp_path_factory.mktemp("budget_images")
    params = compose_file(root / "params.yaml", [*TINY, f"data.root={prepared}"])
    out = root / "out"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HEBBDAM_WORKERS", "1")
        assert main(["budget_images", "--params", str(params), "--out", str(out)]) == 0
    record = json.loads((out / "budget_images.json").read_text())
    curves = json.loads((out / "budget_images_curves.json").read_text())
    return record, curves, params, out


def test_k_slots_follow_the_keep_k_curve_on_the_stored_set(images_run):
    """The sharp binary slot memory, hidden pixels at 0: every stored image recovered while P ≤ K, then no more than
    the K written (K/P; 1/P of slack per image that has a duplicate among the digits); threshold-only counts at least
    as many. Both masking conventions are recorded, and every point has its held-out column."""
    record, curves, *_ = images_run
    rows = [r for r in curves if (r["arm"], r["condition"], r["masking"]) == ("slot", "binary_exp", "zero")]
    assert {r["seed"] for r in rows} == {0, 1} and {r["K"] for r in rows} == {8, 32}
    for row in rows:
        keep = min(1.0, row["K"] / row["P"])
        assert keep - 0.1 <= row["stored"] <= keep + 2 / row["P"] + 1e-9, row
        assert row["stored_within_threshold"] >= row["stored"] and 0 <= row["held_out"] <= 1
    entry = record["arms"]["slot"]["conditions"]["binary_exp"]["zero"]["K32"]
    assert 32 <= entry["P_0.9"] <= 32 / 0.9 + 5 and entry["P_0.9_low"] <= entry["P_0.9"] <= entry["P_0.9_high"]
    assert entry["max_recalled"] <= 32 + 2
    assert set(record["masking"]) == {"background", "zero"}
    for arm in record["arms"].values():
        assert all(set(by_masking) == {"background", "zero"} for by_masking in arm["conditions"].values())
    assert record["arms"]["pseudo_inverse"]["conditions"]["binary_exp"]["zero"]["K8"]["parameters"] == 8 * 64 + 64
    assert record["arms"]["backprop"]["locality"] == "nonlocal"


def test_backprop_capped_at_ten_updates_is_flagged_and_gets_no_verdict(images_run):
    from hebbdam.figures import budget_images as figure

    record, *_ = images_run
    options = record["arms"]["backprop"]["options"]
    for condition, by_masking in record["arms"]["backprop"]["conditions"].items():
        lrs = options["condition_lrs"].get(condition, options["lrs"])  # binary_n3 sweeps its own (laptop conf)
        for per_k in by_masking.values():
            training = per_k["K8"]["training"]
            assert training["converged"] is False and training["updates_max"] == 10
            # every fit stopped at its cap (the start of a P ≤ K slot memory may already solve it: loss at the floor)
            capped = [f for f in training["fits"] if not f["converged"]]
            assert training["at_cap"] == len(capped) > 0 and training["count"] == len(training["fits"])
            assert all(f["updates"] == 10 for f in capped)
            assert training["updates_median"] <= training["updates_max"]
            swept = [f for f in training["fits"] if "swept" in f]
            # 3 lrs from the slots at the first P above K, one lr per extension past an edge, then the random start
            # at the lr the slots chose
            tries = swept[0]["swept"]
            assert len(swept) == 1 and len(tries) == len(training["lrs_tried"]) + 1
            assert [t["init"] for t in tries] == ["slots"] * len(training["lrs_tried"]) + ["random"]
            slots = min((t for t in tries if t["init"] == "slots"), key=lambda t: t["loss"])
            assert tries[-1]["lr"] == slots["lr"] and sorted(t["lr"] for t in tries[:-1]) == training["lrs_tried"]
            assert set(lrs) <= set(training["lrs_tried"]) and len(training["lrs_tried"]) <= 5
            assert training["lr"] == swept[0]["lr"] in training["lrs_tried"]
            edge = training["lr"] in (min(training["lrs_tried"]), max(training["lrs_tried"]))
            assert training["lr_at_edge"] is edge and (not edge or len(training["lrs_tried"]) == 5)
            assert swept[0]["P"] == 12 and swept[0]["seed"] == 0
            assert all(f["lr"] == swept[0]["lr"] and f["init"] == swept[0]["init"] for f in training["fits"])
    rows = [r for r in figure.verdicts(record) if r["condition"] == "binary_exp" and r["K"] == 8]
    assert len(rows) == 2 and all(r["backprop_converged"] is False for r in rows)
    assert all(r["verdict"] in ("not converged", "nonlocal ahead") for r in rows)
    text = "\n".join(figure.section({figure.INPUTS[0]: record}))
    assert "not converged" in text and "| binary_n3 | zero | 8 |" in text
    assert all(f" | {t['at_cap']} of {t['count']} | not converged |" in text for t in _trainings(record))


def _trainings(record: dict) -> list[dict]:
    return [
        per_k["K8"]["training"]
        for by_masking in record["arms"]["backprop"]["conditions"].values()
        for per_k in by_masking.values()
    ]


def test_backprop_keeps_the_trained_units_only_where_they_beat_their_start_on_the_stored_set(images_run):
    """Every backprop point scores what it kept: the trained units when they recover strictly more of the stored set
    than their start, else the start (the curve's stored fraction is the better of the two)."""
    record, curves, *_ = images_run
    stored = {(r["condition"], r["masking"], r["P"], r["seed"]): r["stored"] for r in curves if r["arm"] == "backprop"}
    fits = [
        f
        for by_masking in record["arms"]["backprop"]["conditions"].values()
        for per_k in by_masking.values()
        for f in per_k["K8"]["training"]["fits"]
    ]
    assert len(fits) == len(stored) > 0
    for f in fits:
        assert f["kept"] == ("trained" if f["stored_trained"] > f["stored_start"] else "start")
        assert stored[(f["condition"], f["masking"], f["P"], f["seed"])] == max(f["stored_trained"], f["stored_start"])


def test_a_trained_memory_worse_than_its_start_is_not_kept():
    """Planted: trained units that are pure noise against a slot start holding every stored image."""
    from hebbdam.experiments.budget_images import Condition, Fitted, Task, Units, kept_memory
    from hebbdam.memory import Exponential

    generator = torch.Generator().manual_seed(0)
    stored = torch.randint(0, 2, (6, 64), generator=generator).double() * 2 - 1
    task = Task(
        stored, Condition(name="c", version="binary", separation=Exponential(50.0)), "zero", torch.arange(64) >= 32
    )
    noise = torch.randn(6, 64, generator=generator).double()
    memory, fit = kept_memory(Fitted(Units(noise, noise), Units(stored, stored), {"lr": 0.1}), task, 1)
    assert fit["kept"] == "start" and fit["stored_start"] == 1.0 > fit["stored_trained"]
    assert memory.keys is stored
    memory, fit = kept_memory(Fitted(Units(stored, stored), Units(noise, noise), {"lr": 0.1}), task, 1)
    assert fit["kept"] == "trained" and memory.keys is stored


def test_the_figure_and_the_report_section_read_the_record(images_run):
    """The figure draws from the record and its curves; the section has one table row per (rule, condition, masking)
    and one verdict line per row of :func:`verdicts`, with the convergence table."""
    from hebbdam.figures import budget_images as figure

    record, curves, *_ = images_run
    metrics = {figure.INPUTS[0]: record, figure.INPUTS[1]: curves}
    assert len(figure.draw(metrics).axes) == 2
    lines = figure.section(metrics)
    rows = sum(len(by_masking) for arm in record["arms"].values() for by_masking in arm["conditions"].values())
    assert sum(line.startswith("| ") and "| local |" in line or "| nonlocal |" in line for line in lines) == rows
    verdict_lines = [line for line in lines if line.startswith("- ") and "best local" in line]
    assert len(verdict_lines) == len(figure.verdicts(record)) > 0
    assert any(line.startswith("| binary_exp | background | 8 |") for line in lines)
    assert record["arms"]["willshaw"]["budget"] == "pairwise" and record["arms"]["bcpnn"]["locality"] == "local"
    grids = {name: {row["P"] for row in record["arms"][name]["conditions"]["binary_exp"]["zero"]["K8"]["curve"]}
             for name in ("bcpnn", "slot")}  # fmt: skip
    assert 4 in grids["bcpnn"] and 4 not in grids["slot"]  # the arm's own ratios_below: P = 0.5·K
    assert sum("willshaw" in line and "not at equal budget" in line for line in lines) == len(record["masking"])


def test_every_null_estimate_says_which_side_of_the_grid_it_lies(images_run):
    record, *_ = images_run
    seen = 0
    for arm in record["arms"].values():
        for by_masking in arm["conditions"].values():
            for entries in by_masking.values():
                for key, entry in entries.items():
                    if not key.startswith("K"):
                        continue
                    curve = entry["curve"]
                    for level_key, level in e8b.LEVELS.items():
                        if entry[level_key] is None:
                            seen += 1
                            outside = entry[f"{level_key}_outside"]
                            edge = curve[0] if outside["side"] == "below_grid" else curve[-1]
                            assert outside["load"] == edge["P"] and outside["fraction"] == edge["stored"]
                            assert (edge["stored"] < level) == (outside["side"] == "below_grid")
                        else:
                            assert f"{level_key}_outside" not in entry
                            assert curve[0]["P"] <= entry[level_key] <= curve[-1]["P"]
    assert seen > 0  # the tiny grid censors some (n = 3 blends too much to reach 0.9 at P = K)


def test_stage_repeats_bit_for_bit_with_one_worker_and_with_two(images_run, tmp_path, monkeypatch):
    """The backprop fits run through ``parallel.map_fits``: the record and its curves are the same bytes whether
    they ran in this process (the fixture, HEBBDAM_WORKERS=1) or in two worker processes."""
    from hebbdam.cli import main

    *_, params, one = images_run
    monkeypatch.setenv("HEBBDAM_WORKERS", "2")
    assert main(["budget_images", "--params", str(params), "--out", str(tmp_path)]) == 0
    for name in ("budget_images.json", "budget_images_curves.json"):
        assert (tmp_path / name).read_bytes() == (one / name).read_bytes(), name


def test_an_arm_naming_an_unknown_condition_is_refused(tmp_path):
    from hebbdam.errors import HebbdamError

    with pytest.raises(HebbdamError, match="budget.images.arms.backprop.conditions"):
        compose_file(tmp_path / "refused.yaml", [*TINY, f"{ARMS}.backprop.conditions=[grey_n9]"])


def test_an_lr_anneal_outside_zero_one_is_refused(tmp_path):
    from hebbdam.errors import HebbdamError

    with pytest.raises(HebbdamError, match=r"budget\.images\.arms\.backprop\.options\.anneal"):
        compose_file(tmp_path / "refused.yaml", [*TINY, f"{ARMS}.backprop.options.anneal=1.5"])


def test_an_unknown_masking_convention_is_refused(tmp_path):
    from hebbdam.errors import HebbdamError

    with pytest.raises(HebbdamError, match="budget.images.masking"):
        compose_file(tmp_path / "refused.yaml", [*TINY, "budget.images.masking=[black]"])


def test_colour_images_become_the_mean_of_their_channels():
    rows = torch.arange(24.0).reshape(2, 12)  # two (3, 2, 2) images in (C, H, W) order
    gray = e8b.grayscale(rows, 3)
    torch.testing.assert_close(gray, torch.stack([rows[:, 0:4], rows[:, 4:8], rows[:, 8:12]]).mean(0))
    torch.testing.assert_close(e8b.grayscale(rows, 1), rows)


def test_a_condition_lr_for_an_unknown_condition_or_a_bad_lr_is_refused(tmp_path):
    from hebbdam.errors import HebbdamError

    with pytest.raises(HebbdamError, match=r"budget\.images\.arms\.backprop\.options\.condition_lrs\.grey_n9"):
        compose_file(tmp_path / "refused.yaml", [*TINY, f"+{ARMS}.backprop.options.condition_lrs.grey_n9=[0.1]"])
    with pytest.raises(HebbdamError, match=r"condition_lrs\.binary_exp"):
        compose_file(tmp_path / "refused.yaml", [*TINY, f"+{ARMS}.backprop.options.condition_lrs.binary_exp=[-1]"])


# the grid beyond the ratios ---------------------------------------------------------------------------------------
def test_only_rows_still_recalling_90_percent_at_their_largest_p_are_measured_further(tmp_path, prepared):
    """The slot memory on digits from P = K/4 (every image fits): the rows that still recover ≥ 0.9 of the stored
    set at their largest P get the next ratio of ``ratios_beyond``, one at a time, until they fall below 0.9; a row
    already below it gets none (so no P_0.9 stays censored above the grid it could leave, and nothing else is paid)."""
    from hebbdam.config import load_params

    overrides = ["budget.images.ratios=[0.25,0.5]", "budget.images.ratios_beyond=[1,2,4,8]"]
    params = compose_file(tmp_path / "params.yaml", [*TINY, *overrides, f"data.root={prepared}"])
    settings = e8b.parse_settings(load_params(params))
    images, _ = e8b.load_images(settings)
    arm = next(a for a in settings.arms if a.name == "slot")
    rows, fits = e8b.measure(arm, 8, images, settings)
    assert fits == []
    grid, beyond = {2, 4}, [8, 16, 32, 64]
    extended, stopped = 0, 0
    for at in {(r["condition"], r["masking"]) for r in rows}:
        mine = [r for r in rows if (r["condition"], r["masking"]) == at]
        counts = sorted({r["P"] for r in mine})
        assert all(len([r for r in mine if r["P"] == c]) == settings.seeds for c in counts)
        mean = {c: sum(r["stored"] for r in mine if r["P"] == c) / settings.seeds for c in counts}
        assert set(counts[:2]) == grid and counts[2:] == beyond[: len(counts) - 2], (at, counts)
        assert all(mean[c] >= 0.9 for c in counts[1:-1]), (at, mean)  # each step beyond followed a P still ≥ 0.9
        assert mean[counts[-1]] < 0.9 or counts[-1] == beyond[-1], (at, mean)
        extended += len(counts) > 2
        stopped += len(counts) == 2
    assert extended > 0 and stopped > 0  # both cases met: the slots keep K = 8 at zero masking, not under n = 3


def test_open_rows_are_those_at_or_above_the_primary_level_at_their_largest_p():
    def row(condition, count, stored):
        return {"condition": condition, "masking": "zero", "P": count, "stored": stored}

    rows = [row("a", 10, 1.0), row("a", 20, 0.95), row("a", 20, 0.87), row("b", 10, 1.0), row("b", 20, 0.8)]
    rows += [row("c", 10, 0.5), row("c", 20, 0.9), row("c", 20, 0.9)]
    assert e8b.open_rows(rows, 40) == [("a", "zero"), ("c", "zero")]  # means at P = 20: 0.91, 0.8, 0.9
    assert e8b.open_rows(rows, 20) == []  # nothing beyond a P already measured


# a diverged fit -----------------------------------------------------------------------------------------------------
def test_a_diverged_backprop_fit_is_a_failed_candidate_that_keeps_its_start(monkeypatch):
    """Planted: the fit at the largest lr raises DivergedError. It is ranked last (its start kept, flagged), the sweep
    goes on and chooses among the others; the stage does not stop."""
    from hebbdam.errors import DivergedError
    from hebbdam.settings.budget_images import BACKPROP_DEFAULTS, Arm

    real = e8b.fit_until_plateau

    def diverging(module, *args, **kwargs):
        if module.lr >= 0.03:
            raise DivergedError("planted: non-finite at step 1")
        return real(module, *args, **kwargs)

    monkeypatch.setattr(e8b, "fit_until_plateau", diverging)
    monkeypatch.setattr(e8b, "map_fits", lambda function, items: [function(item) for item in items])
    options = {**BACKPROP_DEFAULTS, "cap": 40, "patience": 20, "lrs": [0.003, 0.01, 0.03], "inits": ["slots"]}
    arm = Arm(name="backprop", rule="backprop", units=[4], conditions=["c"], options=options)
    generator = torch.Generator().manual_seed(0)
    stored = torch.randint(0, 2, (6, 64), generator=generator).float() * 2 - 1
    hidden = torch.arange(64) >= 32
    task = e8b.Task(stored, e8b.Condition(name="c", version="binary", separation=Exponential(1.0)), "zero", hidden)

    class Tiny:
        steps, trainer = 1, {"accelerator": "cpu", "devices": 1, "enable_progress_bar": False}

    fitted = e8b.sweep_backprop(arm, 4, task, 0, Tiny())
    failed = [f for f in fitted.fit["swept"] if f["lr"] == 0.03]
    failure = {"lr": 0.03, "init": "slots", "loss": e8b.DIVERGED_LOSS, "updates": 0}
    assert failed == [{**failure, "converged": False, "stalled": False}]
    assert fitted.fit["lr"] in (0.003, 0.01) and fitted.fit["lrs_tried"][-1] == 0.03
    alone = e8b.train_backprop(arm, 4, task, 0, 0.03, "slots", Tiny())
    assert alone.fit["diverged"] is True and torch.equal(alone.trained.keys, alone.start.keys)


def test_among_local_arms_all_below_the_grid_the_best_is_the_one_recovering_most_at_its_edge():
    """Planted: two local arms censored below the grid at K = 16, the first by name recovering 0.1 of P = K, the other
    0.8; the verdict row names the second (the first name used to win the tie at the edge)."""
    from hebbdam.figures import budget_images as figure

    def entry(value, fraction, side="below_grid"):
        outside = None if fraction is None else {"fraction": fraction, "load": 16, "side": side}
        return {"K": 16, "P_0.9": value, "P_0.9_low": value, "P_0.9_high": value, "P_0.9_outside": outside}

    def arm(locality, e):
        return {"locality": locality, "conditions": {"c": {"zero": {"K16": e}}}}

    arms = {"a_worse": arm("local", entry(None, 0.1)), "z_better": arm("local", entry(None, 0.8))}
    record = {
        "conditions": {"c": {}},
        "masking": {"zero": 0.0},
        "arms": {**arms, "nl": arm("nonlocal", entry(18.0, None))},
    }
    [row] = figure.verdicts(record)
    assert row["local"]["arm"] == "z_better" and row["verdict"] == "nonlocal ahead"
