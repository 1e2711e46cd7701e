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
    "recall.free.memories=[hebb,delta,softmax]",
    "recall.free.pairs=[8,128]",
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
    for name in ("a", "b"):
        assert main(["recall", "--params", str(params), "--out", str(root / name)]) == 0
        outs.append(root / name)
    return outs


def test_stage_writes_the_record_and_repeats_bit_for_bit(tiny_run):
    for name in ("recall.json", "recall_curves.json"):
        assert (tiny_run[0] / name).read_bytes() == (tiny_run[1] / name).read_bytes(), name
    record = json.loads((tiny_run[0] / "recall.json").read_text())
    assert set(record["trained"]["setting1"]) == {"softmax", "linear_elu"}
    assert record["trained"]["setting2"]["delta_elu"]["N4"]["loss"] > 0
    assert set(record["mqar"]["delta_elu"]) == {"L16_N2_d16"}
    # training-free: the Hebbian outer product and the delta rule are exact at N = 8 ≤ d_key (orthonormal keys),
    # not at N = 128 > d_key = 64; the softmax DAM step stays exact
    free = record["free"]["setting1"]
    assert free["hebb"]["N8"]["loss"] < 1e-10 and free["hebb"]["N128"]["loss"] > 0.1
    assert free["delta"]["N8"]["loss"] < 1e-10 and free["softmax"]["N128"]["accuracy"] == 1.0
    assert free["hebb"]["capacity_N"] == 8


def test_every_null_capacity_says_why_so_the_gate_reads_it_as_censored(tiny_run):
    """A null N* (the grid's first N already unsolved) carries capacity_N_outside: below_grid, that N and its loss;
    the gate then sees a censored estimate, never "null without reason"."""
    from hebbdam.gate import Censored, flatten, value_of

    record = json.loads((tiny_run[0] / "recall.json").read_text())
    leaves = flatten(record)
    nulls = [key for key, value in leaves.items() if value is None]
    assert nulls and all(key.endswith("capacity_N") for key in nulls)
    for key in nulls:
        arm, task, name, _ = key.split(".")
        curve = record[arm][task][name]
        first = min(int(n[1:]) for n in curve if n.startswith("N") and n[1:].isdigit())
        assert curve["capacity_N_outside"] == {"side": "below_grid", "load": first, "loss": curve[f"N{first}"]["loss"]}
        assert curve[f"N{first}"]["loss"] > record["solved_loss"]
        assert value_of(leaves, key) == Censored("below_grid", float(first))
    solved = [key for key, value in leaves.items() if key.endswith("capacity_N") and value is not None]
    assert solved and not any(f"{key}_outside.side" in leaves for key in solved)


SOFTMAX_ONLY = [o for o in TINY if ".memories=" not in o] + [
    f"recall.{arm}.memories=[softmax]" for arm in ("schlag.setting1", "schlag.setting2", "free", "mqar")
]


def test_fused_and_explicit_attention_give_the_same_record(tmp_path, monkeypatch):
    """The softmax memories run through SDPA (memory.softmax.attention); with the dispatch forced to the explicit
    matmul-softmax-matmul the trained and training-free points agree within float32 rounding (the record)."""
    import torch.nn.functional as F

    from hebbdam.cli import main
    from hebbdam.memory import softmax

    params = compose_file(tmp_path / "params.yaml", SOFTMAX_ONLY)
    calls = []
    fused_kernel = F.scaled_dot_product_attention
    monkeypatch.setattr(F, "scaled_dot_product_attention", lambda *a, **k: calls.append(1) or fused_kernel(*a, **k))
    assert main(["recall", "--params", str(params), "--out", str(tmp_path / "fused")]) == 0
    fused_calls = len(calls)
    monkeypatch.setattr(softmax, "uses_fused_attention", lambda *tensors: False)
    assert main(["recall", "--params", str(params), "--out", str(tmp_path / "explicit")]) == 0
    assert fused_calls > 0 and len(calls) == fused_calls  # the explicit run never reached SDPA
    fused, explicit = (json.loads((tmp_path / run / "recall_curves.json").read_text()) for run in ("fused", "explicit"))
    assert len(fused) == len(explicit) == 8  # free: 2 settings × N 8, 128; trained: N 4, 8 and 4; MQAR: 1
    same = ("arm", "task", "memory", "N", "accuracy", "steps")
    for a, b in zip(fused, explicit, strict=True):
        assert [a.get(key) for key in same] == [b.get(key) for key in same], (a, b)
        assert abs(a["loss"] - b["loss"]) <= 1e-4 * max(1.0, abs(a["loss"])), (a, b)


def test_figure_and_report_section(tiny_run, run_cli, tmp_path):
    from hebbdam.figures import recall

    assert run_cli("figures", "--metrics", tiny_run[0], "--out", tmp_path, "recall") == 0
    assert (tmp_path / "recall.png").read_bytes()[:4] == b"\x89PNG"
    metrics = {name: json.loads((tiny_run[0] / name).read_text()) for name in recall.INPUTS}
    text = "\n".join(recall.notes(metrics))
    assert "setting1, trained vs training-free (same memory, loss ≤ 0.01): softmax: trained N* " in text


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
