"""E9 (in-context associative recall): the task generators, the stage on tiny params, resume, errors, the figure."""

from __future__ import annotations

import json

import pytest
import torch

from hebbdam.data.recall_tasks import IGNORE, RecallDataModule, key_value_batch, mqar_batch

from ..conftest import compose_file

TINY = [
    "recall.schlag.max_steps=20",
    "recall.schlag.eval_every=10",
    "recall.schlag.val_batches=1",
    "recall.schlag.setting1.memories=[softmax,linear_elu]",
    "recall.schlag.setting1.pairs=[4,8]",
    "recall.schlag.setting2.memories=[delta_elu]",
    "recall.schlag.setting2.pairs=[4]",
    "recall.schlag.setting1.extend=[]",
    "recall.schlag.setting2.extend=[]",
    "recall.free.memories=[hebb,delta,softmax]",
    "recall.free.pairs=[8,128]",
    "recall.free.queries=256",
    "recall.mqar.vocab=32",
    "recall.mqar.sizes=[[16,2]]",
    "recall.mqar.d_models=[16]",
    "recall.mqar.max_steps=10",
    "recall.mqar.eval_every=5",
    "recall.mqar.val_batches=1",
    "recall.mqar.batch_size=8",
    "recall.mqar.memories=[softmax,delta_elu]",
]


def test_setting2_answer_is_the_latest_binding():
    batch = key_value_batch(5, 7, setting=2, generator=torch.Generator().manual_seed(0))
    assert batch.keys.shape == (5, 14)
    for b in range(5):
        latest = {}
        for key, value in zip(batch.keys[b].tolist(), batch.values[b].tolist(), strict=True):
            latest[key] = value
        for key in range(7):
            assert bool(batch.present[b, key]) == (key in latest)
            if key in latest:
                assert batch.answers[b, key].item() == latest[key]


def test_setting1_shows_every_key_once():
    batch = key_value_batch(4, 9, setting=1, generator=torch.Generator().manual_seed(1))
    assert batch.keys.shape == (4, 9) and batch.present.all()
    assert torch.equal(batch.keys.sort(1).values, torch.arange(9).expand(4, 9))
    assert torch.equal(batch.answers.gather(1, batch.keys), batch.values)


def test_mqar_labels_are_the_values_of_the_queried_keys():
    inputs, labels = mqar_batch(6, vocab=64, length=32, pairs=5, generator=torch.Generator().manual_seed(2))
    for b in range(6):
        context = {inputs[b, 2 * i].item(): inputs[b, 2 * i + 1].item() for i in range(5)}
        assert all(1 <= k < 32 for k in context) and all(32 <= v < 64 for v in context.values())
        where = (labels[b] != IGNORE).nonzero().flatten().tolist()
        assert len(where) == 5 and min(where) >= 10 and all(t % 2 == 0 for t in where)
        assert {inputs[b, t].item() for t in where} == set(context)
        assert all(labels[b, t].item() == context[inputs[b, t].item()] for t in where)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from hebbdam.cli import main

    root = tmp_path_factory.mktemp("recall")
    params = compose_file(root / "params.yaml", TINY)
    outs = []
    for name, workers in (("a", "1"), ("b", "2")):  # the trained fits here, then in two worker processes
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("HEBBDAM_WORKERS", workers)
            assert main(["recall", "--params", str(params), "--out", str(root / name)]) == 0
        outs.append(root / name)
    return outs


def test_stage_writes_the_record_and_repeats_bit_for_bit(tiny_run):
    """Run a with one worker (every fit in this process), run b with two worker processes: the same bytes."""
    for name in ("recall.json", "recall_curves.json"):
        assert (tiny_run[0] / name).read_bytes() == (tiny_run[1] / name).read_bytes(), name
    record = json.loads((tiny_run[0] / "recall.json").read_text())
    assert set(record["trained"]["setting1"]) == {"softmax", "linear_elu"}
    assert record["trained"]["setting2"]["delta_elu"]["N4"]["loss"] > 0
    # 20 steps cannot solve anything: every trained point hit the cap and says so
    assert record["trained"]["setting1"]["softmax"]["not_converged"] == [4, 8]
    assert record["mqar"]["delta_elu"]["L16_N2_d16"]["status"] == "not converged"
    assert set(record["mqar"]["delta_elu"]) == {"L16_N2_d16"}
    # training-free, ±1 values: the plain sum rule and the delta rule do not keep 128 random keys in 64 dims
    free = record["free"]["sign"]["setting1"]
    assert free["hebb"]["N128"]["accuracy"] < 0.1 and free["softmax"]["N128"]["accuracy"] == 1.0
    assert free["softmax"]["capacity_N"] is None and free["softmax"]["capacity_N_outside"]["side"] == "above_grid"
    assert free["hebb"]["N128"]["state_size"] == free["hebb"]["N8"]["state_size"] == 64 * 64
    assert free["softmax"]["N128"]["state_size"] == 128 * (64 + 64)


def test_curves_rows_share_one_key_set_and_keep_the_record_order(tiny_run):
    """``dvc plots show`` refuses a plot file whose rows carry different key sets (TypeError); the trained points
    follow the record order (setting, memory as listed, N; then MQAR) whatever order the workers ran them in."""
    rows = json.loads((tiny_run[1] / "recall_curves.json").read_text())
    assert len({tuple(row) for row in rows}) == 1
    free = [row for row in rows if row["arm"] == "free"]
    assert free and all(row["loss"] is None and row["steps"] is None for row in free)
    trained = [(row["task"], row["memory"], row["N"]) for row in rows if row["arm"] == "trained"]
    assert trained == [
        ("setting1", "softmax", 4),
        ("setting1", "softmax", 8),
        ("setting1", "linear_elu", 4),
        ("setting1", "linear_elu", 8),
        ("setting2", "delta_elu", 4),
        ("mqar", "softmax", 2),
        ("mqar", "delta_elu", 2),
    ]


def test_every_null_capacity_says_why_so_the_gate_reads_it_as_censored(tiny_run):
    """A null N* is censored at a grid edge and says which: trained (loss) below the grid with the loss there,
    training-free (accuracy) below or above with the accuracy there; the gate reads both as censored."""
    from hebbdam.gate import Censored, flatten, value_of

    record = json.loads((tiny_run[0] / "recall.json").read_text())
    leaves = flatten(record)
    nulls = [key for key, value in leaves.items() if value is None]
    assert nulls and all(key.endswith("capacity_N") for key in nulls)
    for key in nulls:
        curve = record
        for part in key.split(".")[:-1]:
            curve = curve[part]
        by_n = {int(n[1:]): e for n, e in curve.items() if n.startswith("N") and n[1:].isdigit()}
        outside = curve["capacity_N_outside"]
        edge = min(by_n) if outside["side"] == "below_grid" else max(by_n)
        assert outside["load"] == edge
        if key.startswith("trained"):
            assert outside == {"side": "below_grid", "load": edge, "loss": by_n[edge]["loss"]}
            assert by_n[edge]["loss"] > record["solved_loss"]
        else:
            assert outside["fraction"] == by_n[edge]["accuracy"]
            level = record["free_setting"]["level"]
            assert (by_n[edge]["accuracy"] < level) == (outside["side"] == "below_grid")
        assert value_of(leaves, key) == Censored(outside["side"], float(edge))
    solved = [key for key, value in leaves.items() if key.endswith("capacity_N") and value is not None]
    assert solved and not any(f"{key}_outside.side" in leaves for key in solved)


# training-free arm on fixed value spaces ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def free_settings(tmp_path_factory):
    from hebbdam.config import load_params
    from hebbdam.experiments import recall

    params = compose_file(tmp_path_factory.mktemp("free") / "params.yaml", ["recall.free.queries=512"])
    return recall.parse_settings(load_params(params))


def test_free_sum_rule_loses_exact_recall_well_before_512(free_settings):
    """Identity features, d_key 64, ±1 values: exact recall (every bit) fails long before N = 512; with one-hot
    values over a fixed vocabulary the argmax fails by N = 1024 too. Planted break: one-hot values of dimension N
    (the old arm) make the same memory look perfect."""
    from hebbdam.experiments.recall import free_recall

    assert free_recall(free_settings, "hebb", "setting1", 8, "sign")["accuracy"] > 0.8
    assert free_recall(free_settings, "hebb", "setting1", 64, "sign")["accuracy"] < 0.1
    assert free_recall(free_settings, "hebb", "setting1", 1024, "onehot")["accuracy"] < 0.6


class NearestKey(torch.nn.Module):
    """Nearest-neighbour lookup: the value of the stored key with the largest dot product (its state: every pair)."""

    def final_state(self, k, v):
        return k, v

    def read(self, state, q):
        keys, values = state
        best = (q @ keys.transpose(-1, -2)).argmax(-1, keepdim=True)
        return values.gather(1, best.expand(-1, -1, values.shape[-1]))


def test_free_criterion_tells_nearest_neighbour_search_from_a_sum_memory(free_settings, monkeypatch):
    """Under the fixed-value-space criterion a nearest-neighbour lookup over the stored keys recalls every pair at
    N = 512 while the sum rule recalls almost none: the criterion does not score search as a memory."""
    from hebbdam.experiments import recall

    sum_rule = recall.free_recall(free_settings, "hebb", "setting1", 512, "sign")["accuracy"]
    monkeypatch.setattr(recall, "free_memory", lambda settings, name: NearestKey())
    for space in ("sign", "onehot"):
        assert recall.free_recall(free_settings, "hebb", "setting1", 512, space)["accuracy"] == 1.0
    assert sum_rule < 0.05


def test_free_delta_rule_returns_the_latest_binding_where_the_sum_rule_does_not(free_settings):
    """Setting 2 (re-bound keys), N = 8 ≪ d_key: the error-correcting write overwrites the old value, the sum keeps
    both (their disagreeing bits cancel)."""
    from hebbdam.experiments.recall import free_recall

    for space in ("sign", "onehot"):
        delta = free_recall(free_settings, "delta", "setting2", 8, space)["accuracy"]
        plain = free_recall(free_settings, "hebb", "setting2", 8, space)["accuracy"]
        assert delta > 0.85 and plain < 0.7 and delta - plain > 0.3, (space, delta, plain)


def test_free_softmax_with_a_large_beta_recalls_every_pair_far_past_d_key(free_settings):
    from hebbdam.experiments.recall import free_recall

    assert free_settings.free.softmax_beta >= 8
    for space in ("sign", "onehot"):
        assert free_recall(free_settings, "softmax", "setting1", 1024, space)["accuracy"] == 1.0


def test_free_normaliser_changes_neither_sign_nor_argmax(free_settings):
    """φ(q)·Σφ(k) > 0 for a non-negative φ: a linear memory with and without its normaliser score the same."""
    from hebbdam.experiments.recall import free_recall

    for name in ("linear_elu", "dpfp1"):
        for space in ("sign", "onehot"):
            normalised = free_recall(free_settings, name, "setting1", 16, space)
            raw = free_recall(free_settings, name + "_raw", "setting1", 16, space)
            assert normalised == raw, (name, space)
    assert free_settings.memories["linear_elu_raw"]["normalise"] is False
    assert "normalise" not in free_settings.memories["linear_elu"]


def test_free_capacity_is_censored_at_either_edge():
    from hebbdam.experiments.recall import free_capacity

    assert free_capacity([(8, 1.0), (16, 0.95), (32, 0.5), (64, 0.95)], 0.9) == {"capacity_N": 16}
    assert free_capacity([(8, 0.8), (16, 1.0)], 0.9) == {
        "capacity_N": None,
        "capacity_N_outside": {"side": "below_grid", "load": 8, "fraction": 0.8},
    }
    assert free_capacity([(8, 1.0), (16, 0.9)], 0.9) == {
        "capacity_N": None,
        "capacity_N_outside": {"side": "above_grid", "load": 16, "fraction": 0.9},
    }


SOFTMAX_ONLY = [o for o in TINY if ".memories=" not in o] + [
    f"recall.{arm}.memories=[softmax]" for arm in ("schlag.setting1", "schlag.setting2", "free", "mqar")
]


def test_fused_and_explicit_attention_give_the_same_record(tmp_path, monkeypatch):
    """The softmax memories run through SDPA (memory.core.attention); with the dispatch forced to the explicit
    matmul-softmax-matmul the trained and training-free points agree within float32 rounding (the record)."""
    import torch.nn.functional as F

    from hebbdam.cli import main
    from hebbdam.memory import core

    params = compose_file(tmp_path / "params.yaml", SOFTMAX_ONLY)
    monkeypatch.setenv("HEBBDAM_WORKERS", "1")  # the fits run in this process, where the patches below apply
    calls = []
    fused_kernel = F.scaled_dot_product_attention
    monkeypatch.setattr(F, "scaled_dot_product_attention", lambda *a, **k: calls.append(1) or fused_kernel(*a, **k))
    assert main(["recall", "--params", str(params), "--out", str(tmp_path / "fused")]) == 0
    fused_calls = len(calls)
    monkeypatch.setattr(core, "uses_fused_attention", lambda *tensors: False)
    assert main(["recall", "--params", str(params), "--out", str(tmp_path / "explicit")]) == 0
    assert fused_calls > 0 and len(calls) == fused_calls  # the explicit run never reached SDPA
    fused, explicit = (json.loads((tmp_path / run / "recall_curves.json").read_text()) for run in ("fused", "explicit"))
    assert len(fused) == len(explicit) == 12  # free: 2 spaces × 2 settings × N 8, 128; trained: 4, 8 and 4; MQAR 1
    same = ("arm", "task", "memory", "N", "accuracy", "steps")
    for a, b in zip(fused, explicit, strict=True):
        assert [a.get(key) for key in same] == [b.get(key) for key in same], (a, b)
        assert (a["loss"] is not None) == (a["arm"] == "trained") == (b["loss"] is not None)
        if a["loss"] is not None:
            assert abs(a["loss"] - b["loss"]) <= 1e-4 * max(1.0, abs(a["loss"])), (a, b)


def test_figure_and_report_section(tiny_run, run_cli, tmp_path):
    from hebbdam.figures import recall

    assert run_cli("figures", "--metrics", tiny_run[0], "--out", tmp_path, "recall") == 0
    assert (tmp_path / "recall.png").read_bytes()[:4] == b"\x89PNG"
    metrics = {name: json.loads((tiny_run[0] / name).read_text()) for name in recall.INPUTS}
    text = "\n".join(recall.notes(metrics))
    assert "| hebb | 64 | 4096 (N = 128) | 8 | < 8 | ≥ 128 | < 8 |" in text  # sign s1, s2; onehot s1, s2
    assert "| softmax | 64 | 16384 (N = 128) | ≥ 128 | < 8 | ≥ 128 | < 8 |" in text
    assert (
        "training-free sign setting2, sum / delta / softmax (by N*, ties by accuracy summed over N): delta > " in text
    )


def test_ordering_ranks_by_capacity_then_by_the_loss_at_the_largest_n():
    from hebbdam.figures.recall import notes, ordering

    def entry(star, last_loss):
        return {"capacity_N": star, "N20": {"N": 20, "loss": 0.0}, "N80": {"N": 80, "loss": last_loss}}

    trained = {"softmax": entry(80, 1e-4), "dpfp1": entry(80, 0.02), "linear_elu": entry(20, 0.3)}
    record = {"trained": {"setting1": trained}, "solved_loss": 0.01}
    assert ordering(record, "trained", "setting1", ["linear_elu", "dpfp1", "softmax"]) == "softmax > dpfp1 > linear_elu"
    assert ordering(record, "trained", "setting1", ["favor", "softmax"]) is None
    trained["dpfp1"] = entry(20, 0.4)
    text = "\n".join(notes({"recall.json": record}))
    assert "measured softmax > linear_elu > dpfp1 — **does not reproduce**" in text


BAD_VALUES = (
    (("schlag", "setting1", "memories"), ["softmax", "mamba"], "recall.schlag.setting1.memories"),
    (("memories", "hebb", "rule"), "oja", "recall.memories.hebb.rule"),
    (("mqar", "sizes"), [[15, 2]], "recall.mqar.sizes"),
    (("free", "pairs"), [0], "recall.free.pairs"),
    (("free", "values"), ["sign", "gaussian"], "recall.free.values"),
    (("free", "vocab"), 1, "recall.free.vocab"),
    (("memories", "dpfp1", "normalise"), "no", "recall.memories.dpfp1.normalise"),
)


@pytest.mark.parametrize("path,value,key", BAD_VALUES)
def test_bad_params_are_refused_naming_the_key(path, value, key, run_cli, tmp_path, capsys):
    """Refused when composing (Hydra override) and when the stage starts (a value typed into params.yaml)."""
    import yaml

    from hebbdam.errors import HebbdamError

    override = f"recall.{'.'.join(path)}={json.dumps(value).replace(' ', '')}"
    with pytest.raises(HebbdamError, match=key.replace(".", r"\.")):
        compose_file(tmp_path / "refused.yaml", [*TINY, override])
    params = yaml.safe_load(compose_file(tmp_path / "params.yaml", TINY).read_text())
    node = params["recall"]
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    assert run_cli("recall", "--params", tmp_path / "params.yaml", "--out", tmp_path / "out") == 2
    assert key in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_checkpoint_resume_gives_the_same_weights(tmp_path, one_thread):
    """Two epochs straight = one epoch, stop, resume from last.ckpt for the second (CPU, bit for bit)."""
    from hebbdam.lit.transformer import RecallModule, fit

    spec = {"rule": "delta", "feature": "elu"}
    model = {"pairs": 6, "d_key": 8, "embed": 8}

    def train(epochs: int, directory):
        module = RecallModule("kv2", spec, model, lr=0.01, seed=3)
        data = RecallDataModule("kv2", 6, batch_size=4, steps_per_epoch=5, val_batches=1, seed=3)
        section = {"accelerator": "cpu", "devices": 1}
        if directory is not None:
            section["checkpoint"] = {"dir": str(directory), "resume": True}
        fit(module, data, epochs, section, name="kv2/delta_elu")
        return module

    straight = train(2, None)
    train(1, tmp_path / "run")
    assert (tmp_path / "run" / "kv2" / "delta_elu" / "last.ckpt").is_file()
    resumed = train(2, tmp_path / "run")
    for (name, a), (_, b) in zip(straight.state_dict().items(), resumed.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    assert not torch.equal(straight.state_dict()["net.to_key.weight"], train(1, None).state_dict()["net.to_key.weight"])


@pytest.mark.parametrize("profile", ["laptop", "ci", "paper"])
def test_every_profile_composes_into_valid_recall_settings(tmp_path, profile):
    from hebbdam.config import load_params
    from hebbdam.experiments.recall import parse_settings

    settings = parse_settings(load_params(compose_file(tmp_path / "params.yaml", [f"profile={profile}"])))
    assert settings.schlag.d_key == 64 and settings.schlag.grids["setting2"][0]
    if profile == "paper":  # the published grids
        assert settings.schlag.grids["setting1"][1] == list(range(20, 601, 20))
        assert settings.mqar.vocab == 8192 and settings.mqar.sizes[-1] == (512, 64) and settings.mqar.layers == 2
    if profile == "laptop":  # issue 21: MQAR at ≥ 2 sizes with the delta rule among the memories
        assert len(settings.mqar.sizes) >= 2
        assert any(settings.memories[name]["rule"] == "delta" for name in settings.mqar.memories)


def test_convergence_status_and_the_verdict_it_forces():
    """solved below stop_loss; plateau when patience stopped it before the cap; not converged at the cap. A trained
    N* that failed at a not-converged N is inconclusive, one at the grid's last N is censored."""
    from hebbdam.experiments.recall import Training, convergence
    from hebbdam.figures.recall import schlag_verdict

    t = Training(batch_size=8, lr=1e-3, eval_every=10, val_batches=1, max_steps=600, stop_loss=0.001, patience=3)
    assert convergence(0.0005, 300, t) == "solved"
    assert convergence(0.2, 300, t) == "plateau"
    assert convergence(0.2, 600, t) == "not converged"
    # stopped early on the flat stretch at chance before learning starts (MQAR): not a plateau of the memory
    assert convergence(4.88, 500, t, first_loss=4.90) == "not converged"
    assert convergence(0.2, 300, t, first_loss=0.5) == "plateau"
    capped = {20: {"status": "solved"}, 40: {"status": "not converged"}, 80: {"status": "not converged"}}
    assert schlag_verdict(20, 40, [20, 40, 80], capped, 600)[0] == "inconclusive"
    assert schlag_verdict(80, 80, [20, 40, 80], capped, 600)[0] == "censored"
    plateaued = {20: {"status": "solved"}, 40: {"status": "plateau"}, 80: {"status": "plateau"}}
    assert schlag_verdict(20, 40, [20, 40, 80], plateaued, 600)[0] == "not reproduced"
    assert (
        schlag_verdict(20, 20, [20, 40, 80], plateaued, 600)[0]
        == "consistent (our tolerance the same N of the shared grid)"
    )


def test_extension_runs_only_memories_solved_at_every_n_so_far(tmp_path, monkeypatch):
    """``extend`` N past the grid, inside each memory's own chain: a memory solved (loss ≤ solved_loss) at every N it
    ran gets the next N; one that failed anywhere gets none, nor does a setting without an extend list; an extend N
    inside the grid is refused."""
    from hebbdam.config import load_params
    from hebbdam.experiments import recall

    overrides = [
        "recall.schlag.setting1.memories=[softmax,linear_elu,dpfp1]",
        "recall.schlag.setting1.pairs=[20,40]",
        "recall.schlag.setting1.extend=[80,160]",
        "recall.schlag.setting2.memories=[delta_elu]",
        "recall.schlag.setting2.extend=[]",
    ]
    settings = recall.parse_settings(load_params(compose_file(tmp_path / "params.yaml", overrides)))
    solved = settings.solved_loss
    losses = {  # (task, memory, N) → final loss; dpfp1 sits at the threshold (solved) up to 80, fails at 160
        **{("setting1", "softmax", n): solved / 2 for n in (20, 40, 80, 160)},
        ("setting1", "linear_elu", 20): solved / 2,
        ("setting1", "linear_elu", 40): solved * 2,
        **{("setting1", "dpfp1", n): solved for n in (20, 40, 80)},
        ("setting1", "dpfp1", 160): solved * 2,
        **{("setting2", "delta_elu", n): solved / 2 for n in (20, 40, 80)},
    }
    monkeypatch.setattr(recall, "fit_point", lambda fit: ({"loss": losses[fit.task, fit.name, fit.pairs]}, []))
    ran = {
        chain.fits[0].name: [fit.pairs for fit, _ in recall.fit_chain(chain)]
        for chain in recall.trained_chains(settings)
        if chain.fits[0].task != "mqar"
    }
    assert ran == {
        "softmax": [20, 40, 80, 160],
        "linear_elu": [20, 40],
        "dpfp1": [20, 40, 80, 160],
        "delta_elu": [20, 40, 80],
    }
    with pytest.raises(Exception, match=r"recall\.schlag\.setting1\.extend.*larger than the grid's last N = 40"):
        compose_file(tmp_path / "bad.yaml", [*overrides[:2], "recall.schlag.setting1.extend=[40]"])  # checked there


def test_chains_start_longest_first_and_come_back_in_the_record_order(tmp_path, monkeypatch):
    """``run_chains`` hands the chains out by cost (MQAR first) and returns the results in the chains' own order;
    one chain per Schlag memory (its whole grid) and one per MQAR fit."""
    from hebbdam.config import load_params
    from hebbdam.experiments import recall

    settings = recall.parse_settings(load_params(compose_file(tmp_path / "params.yaml", TINY)))
    chains = recall.trained_chains(settings)
    assert [[f.pairs for f in c.fits] for c in chains[:2]] == [[4, 8], [4, 8]]
    started = []

    def fake(chain):
        started.append(chain)
        return [(fit.task, fit.name, fit.pairs) for fit in chain.fits]

    monkeypatch.setattr(recall, "fit_chain", fake)
    results = recall.run_chains(chains, workers=1)  # one worker: the calls run here, so the fake is the one called
    assert results == [[(f.task, f.name, f.pairs) for f in c.fits] for c in chains]
    assert started[0].fits[0].task == "mqar" and [c.cost for c in started] == sorted(
        (c.cost for c in chains), reverse=True
    )


def test_capped_mqar_fits_get_no_verdict_and_show_their_trend():
    """An MQAR fit stopped by the cap: the softmax band test is inconclusive, no ordering is drawn from it, and its
    record says how much the loss still fell over the last ``patience`` validations."""
    from hebbdam import comparison as cmp
    from hebbdam.experiments.recall import Training, still_falling
    from hebbdam.figures.recall import mqar_ordering, mqar_verdict

    t = Training(batch_size=8, lr=1e-3, eval_every=100, val_batches=1, max_steps=400, stop_loss=0.05, patience=2)
    assert still_falling([[100, 4.0, 0], [200, 2.0, 0], [300, 1.5, 0], [400, 1.0, 0]], t) == 0.5
    assert still_falling([[100, 4.0, 0], [200, 2.0, 0]], t) == 0.5 and still_falling([[100, 4.0, 0]], t) == 0.0
    assert mqar_verdict({"accuracy": 0.99, "status": "not converged"}) == cmp.INCONCLUSIVE
    assert mqar_verdict({"accuracy": 0.99, "status": "solved"}) == cmp.REPRODUCED
    runs = {"a": {"k": {"accuracy": 0.9, "status": "solved"}}, "b": {"k": {"accuracy": 0.5, "status": "plateau"}}}
    assert mqar_ordering({"mqar": runs}, ["a", "b"], "k") == "a > b"
    runs["b"]["k"]["status"] = "not converged"
    assert mqar_ordering({"mqar": runs}, ["a", "b"], "k") is None
