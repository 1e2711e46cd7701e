"""The CI regression gate: bands from the seed spread, censored estimates, orderings, and real planted breaks.

The planted-break tests read fixtures that are real ci-profile runs (tests/fixtures/gate/, see its README):
the baseline seed and the spread measured over the calibration seeds, a held-out seed that the gate must pass,
and two planted breaks that it must fail: Hebbian synapses clipped to sign(W), and the backprop ladder arm
trained with lr = 1e6. They are gated with the committed reports/ci-baseline/tolerances.yaml, so loosening a band
until a planted break passes fails here.
"""

from __future__ import annotations

import fnmatch
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hebbdam.errors import HebbdamError
from hebbdam.gate import (
    check_orderings,
    compare,
    flatten,
    load_tolerances,
    lookup,
    numeric_keys,
    parse_rules,
    read_records,
    spread_of,
)

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "gate"
KEY = "capacity.json:arms.hebb.D100.critical_load"


def write(folder: Path, name: str, obj: object) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps(obj))


def estimates(value, side=None, fraction=0.0) -> dict:
    """A record of one critical load on the grid 0.04 … 0.2 (or censored beyond it: ``side``)."""
    record = {"critical_load": value}
    if side is not None:
        edge = 0.04 if side == "below_grid" else 0.2
        record["critical_load_outside"] = {"side": side, "load": edge, "fraction": fraction}
    return {"arms": {"hebb": {"D100": record, "rule": "hebb"}}}


def setup(tmp_path, old, new, std=0.004, states=("number",), multiple=5, floor=0.002, orderings=()):
    base, run = tmp_path / "base", tmp_path / "new"
    write(base, "capacity.json", old)
    write(run, "capacity.json", new)
    (base / "tolerances.yaml").write_text(
        f"multiple: {multiple}\n"
        f'metrics:\n  "capacity.json:arms.*.critical_load": {{floor: {floor}, default: 0.03}}\n'
        f"orderings: {json.dumps(list(orderings))}\n"
    )
    if std is not None or states != ("number",):
        write(base, "spread.json", {"metrics": {KEY: {"std": std, "states": list(states), "values": []}}})
    return base, run


def test_flatten_keeps_numbers_nulls_and_strings():
    assert flatten({"a": {"b": 1, "c": "s", "d": None, "e": [1, 2], "f": True}}) == {
        "a.b": 1.0,
        "a.c": "s",
        "a.d": None,
    }


def test_band_is_the_multiple_of_the_seed_std_with_a_floor(tmp_path, run_cli, capsys):
    base, run = setup(tmp_path, estimates(0.15), estimates(0.169))  # 5 × 0.004 = 0.02
    (check,) = compare(base, run)
    assert check.passed and check.allowed == pytest.approx(0.02) and check.source == "5σ"
    base, run = setup(tmp_path, estimates(0.15), estimates(0.171))
    assert not compare(base, run)[0].passed
    assert run_cli("gate", "--baseline", base, "--metrics", run) == 2
    out = capsys.readouterr()
    assert KEY in out.out and "FAIL" in out.out and "0.171" in out.out
    assert out.err.startswith("hebbdam: error: regression gate: 1 of 1 metrics and 0 of 0 orderings failed")
    assert out.err.count("\n") == 1
    base, run = setup(tmp_path, estimates(0.15), estimates(0.151), std=0.0)  # no seed noise: the floor
    (check,) = compare(base, run)
    assert check.passed and check.allowed == 0.002 and check.source == "floor"


def test_a_metric_without_a_measured_spread_gets_the_default_band(tmp_path):
    base, run = setup(tmp_path, estimates(0.15), estimates(0.179), std=None)
    (check,) = compare(base, run)
    assert check.passed and check.allowed == 0.03 and check.source == "default"


def test_censored_estimates_are_intervals_beyond_the_grid_edge(tmp_path):
    below = estimates(None, "below_grid", 0.3)
    assert compare(*setup(tmp_path, below, estimates(None, "below_grid", 0.0)))[0].passed
    assert not compare(*setup(tmp_path, below, estimates(None, "above_grid", 1.0)))[0].passed
    assert not compare(*setup(tmp_path, below, estimates(0.1)))[0].passed  # 0.06 beyond the edge, band 0.02
    assert not compare(*setup(tmp_path, estimates(0.1), below))[0].passed
    # a crossing that moved just past the last load is within the band of that edge: seed noise, not a regression
    (check,) = compare(*setup(tmp_path, estimates(0.19), estimates(None, "above_grid", 0.52)))
    assert check.passed and str(check.new) == ">0.2"


def test_null_without_its_reason_and_a_missing_metric_fail(tmp_path):
    (check,) = compare(*setup(tmp_path, estimates(None), estimates(None)))
    assert not check.passed and check.source == "null without _outside"
    (check,) = compare(*setup(tmp_path, estimates(0.15), {"arms": {}}))
    assert not check.passed and check.new == "missing" and check.source == "not measured"
    # unless the calibration saw it missing for some seeds
    assert compare(*setup(tmp_path, estimates(0.15), {"arms": {}}, states=("missing", "number")))[0].passed


def test_orderings_hold_or_fail_with_censored_values_as_infinities(tmp_path):
    order = "capacity.json:arms.hebb.D100.critical_load > capacity.json:arms.hebb.D200.critical_load"
    record = estimates(0.15)
    record["arms"]["hebb"]["D200"] = {"critical_load": 0.14}
    base, run = setup(tmp_path, record, record, orderings=[order])
    (check,) = check_orderings(load_tolerances(base), read_records(run))
    assert check.passed
    record["arms"]["hebb"]["D200"] = {"critical_load": None, "critical_load_outside": {"side": "above_grid"}}
    base, run = setup(tmp_path, record, record, orderings=[order])
    assert not check_orderings(load_tolerances(base), read_records(run))[0].passed


def test_spread_records_std_and_the_states_seen():
    runs = [{"c.json": flatten(estimates(v, side))} for v, side in ((0.1, None), (0.12, None), (None, "below_grid"))]
    entry = spread_of(runs)["c.json:arms.hebb.D100.critical_load"]
    assert entry["std"] == pytest.approx(0.014142, abs=1e-6)
    assert entry["states"] == ["below_grid", "number"] and entry["values"] == [0.1, 0.12, "below_grid"]


def test_bad_tolerance_file_is_one_line(tmp_path, run_cli, capsys):
    base, run = setup(tmp_path, estimates(0.15), estimates(0.15))
    (base / "tolerances.yaml").write_text('metrics:\n  "x": {abs: 0.1}\n')
    assert run_cli("gate", "--baseline", base, "--metrics", run) == 2
    assert "expected a top-level 'multiple" in capsys.readouterr().err


# --------------------------------------------------------------------------- planted breaks on real ci-profile runs


def failures(tmp_path, run: str, files: tuple[str, ...]) -> list[str]:
    """Gate the fixture run ``run`` against the fixture baseline (its records ``files`` and its spread), with the
    committed tolerances; the failed metric and ordering keys."""
    base = tmp_path / "baseline"
    base.mkdir()
    for name in (*files, "spread.json"):
        shutil.copy(FIXTURES / "baseline" / name, base)
    shutil.copy(REPO / "reports" / "ci-baseline" / "tolerances.yaml", base)
    shutil.copytree(REPO / "reports" / "ci-baseline" / "tolerances", base / "tolerances")
    records = read_records(FIXTURES / run)
    orderings = [c for c in check_orderings(load_tolerances(base), records) if c.old != "missing" != c.new]
    return [c.key for c in compare(base, FIXTURES / run) + orderings if not c.passed]


E1 = ("capacity.json", "ladder_pairwise.json")


def test_a_seed_change_passes_the_gate(tmp_path):
    assert failures(tmp_path, "seed6", E1) == []


def test_clipped_hebbian_synapses_fail_the_gate(tmp_path):
    failed = failures(tmp_path, "clipped_synapses", E1)
    assert any("hebb" in key and "critical_load" in key for key in failed), failed


def test_a_one_trial_move_of_the_backprop_ladder_is_seed_noise(tmp_path):
    """The lr-1e6 ladder fixture moves only the 3-trial edge fractions by one trial (1/3 -> 0), exactly what seed 11
    of the ci profile did with the unbroken code: at ci sizes the backprop ladder cannot tell that break from a seed
    change, so the gate passes it. The break itself is caught by `hebbdam breaks`, which also runs budget_patterns'
    backprop arms (see hebbdam.breaks)."""
    assert failures(tmp_path, "broken_backprop", ("ladder_backprop.json",)) == []


def test_spread_command_writes_the_spread_file_the_bands_derive_from(tmp_path, run_cli):
    base, run = setup(tmp_path, estimates(0.15), estimates(0.15), std=None)
    for seed, value in enumerate((0.14, 0.15, 0.17)):
        write(tmp_path / f"seed{seed}", "capacity.json", estimates(value))
    folders = [tmp_path / f"seed{seed}" for seed in range(3)]
    assert run_cli("gate", "spread", *folders, "--baseline", base) == 0
    spread = json.loads((base / "spread.json").read_text())
    assert spread["seeds"] == [0, 1, 2] and spread["metrics"][KEY]["std"] == pytest.approx(0.015275, abs=1e-6)
    (check,) = compare(base, run)
    assert check.source == "5σ" and check.allowed == pytest.approx(5 * 0.015275, abs=1e-5)


# ---------------------------------------------------------------------------------- NaN, bounded bands, censoring


def test_a_nan_or_infinite_metric_never_passes(tmp_path):
    for bad in (float("nan"), float("inf"), -float("inf")):
        (check,) = compare(*setup(tmp_path, estimates(0.15), estimates(bad)))
        assert not check.passed and check.source == "not finite", bad
    (check,) = compare(*setup(tmp_path, estimates(float("nan")), estimates(0.15)))
    assert not check.passed


def test_a_nan_record_through_the_gate_command_fails(tmp_path):
    """Every number of the run set to NaN (as JSON writes it, NaN): the hebbdam command exits 2 naming them."""
    base, run = setup(tmp_path, estimates(0.15), estimates(0.15))
    (run / "capacity.json").write_text('{"arms": {"hebb": {"D100": {"critical_load": NaN}}}}')
    result = subprocess.run(
        [sys.executable, "-m", "hebbdam.cli", "gate", "--baseline", str(base), "--metrics", str(run)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2, result.stderr
    assert "not finite" in result.stdout and "1 of 1 metrics" in result.stderr


def ranged(tmp_path, old, new, std, floor=0.02, low=0, high=1):
    """A bounded metric (a fraction in [low, high]) with seed std ``std``: its only check."""
    base, run = setup(tmp_path, estimates(old), estimates(new), std=std, multiple=8)
    (base / "tolerances.yaml").write_text(
        "multiple: 8\nmetrics:\n"
        f'  "capacity.json:arms.*.critical_load": {{floor: {floor}, default: 0.3, range: [{low}, {high}]}}\n'
    )
    (check,) = compare(base, run)
    return check


def test_a_bounded_metric_always_has_a_band_that_can_fail(tmp_path):
    # 8 × 0.2 = 1.6 would cover the whole of [0, 1]: capped at 45% of the range
    check = ranged(tmp_path, 0.9, 0.46, std=0.2)
    assert check.passed and check.allowed == pytest.approx(0.45) and check.source == "range cap"
    assert not ranged(tmp_path, 0.9, 0.44, std=0.2).passed
    assert not ranged(tmp_path, 0.05, 0.51, std=0.2).passed  # from near 0, a jump past the middle fails
    assert ranged(tmp_path, 0.5, 0.6, std=0.01).allowed == pytest.approx(0.08)  # an uncapped band is unchanged


def test_a_bounded_metric_that_jumps_from_the_middle_to_an_end_fails(tmp_path):
    for new in (0.0, 1.0):
        check = ranged(tmp_path, 0.6, new, std=0.2)
        assert not check.passed and check.source == "jump to an end of the range", new
    assert ranged(tmp_path, 0.9, 1.0, std=0.02).passed  # near an end, reaching it is seed noise
    assert ranged(tmp_path, 0.1, 0.0, std=0.02).passed
    assert ranged(tmp_path, 0.3, 0.0, std=0.2).source == "jump to an end of the range"
    base, run = setup(tmp_path, estimates(0.3), estimates(0.0), std=0.2)  # a seed of the calibration reached 0
    spread = json.loads((base / "spread.json").read_text())
    spread["metrics"][KEY]["values"] = [0.3, 0.4, 0.0]
    (base / "spread.json").write_text(json.dumps(spread))
    (base / "tolerances.yaml").write_text(
        'multiple: 8\nmetrics:\n  "capacity.json:arms.*.critical_load": {floor: 0.02, default: 0.3, range: [0, 1]}\n'
    )
    (check,) = compare(base, run)
    assert check.passed and check.source == "range cap"  # seed noise: within the (capped) band


def test_an_outside_detail_follows_its_censored_estimate(tmp_path):
    """<key>_outside.fraction is compared while the estimate stays censored on the same side; when the estimate
    becomes a number (the detail disappears) the estimate's own interval check decides: not "not measured"."""
    fraction_key = "capacity.json:arms.hebb.D100.critical_load_outside.fraction"

    def gate(old, new):
        base, run = setup(tmp_path, old, new)
        (base / "tolerances.yaml").write_text(
            "multiple: 5\nmetrics:\n"
            '  "*.json:arms.*.D*.*_outside.fraction": {floor: 0.15, default: 0.25, range: [0, 1]}\n'
            '  "capacity.json:arms.*.critical_load": {floor: 0.002, default: 0.03}\n'
        )
        return {c.key: c for c in compare(base, run)}

    below = estimates(None, "below_grid", 0.3)
    checks = gate(below, estimates(0.045))  # just above the edge 0.04: within the band of the edge
    assert checks[fraction_key].passed and checks[KEY].passed
    checks = gate(below, estimates(0.15))  # far from the edge: the estimate fails, not its detail
    assert checks[fraction_key].passed and not checks[KEY].passed
    checks = gate(below, estimates(None, "below_grid", 0.9))  # same side: the fraction is gated as a number
    assert not checks[fraction_key].passed and checks[KEY].passed


def test_committed_tolerances_bound_every_fraction_and_gate_e9_losses():
    """Every gated baseline metric whose pattern says range [0, 1] lies in it, every ci metric named like a fraction,
    accuracy or error has a range, and E9's losses and accuracies are gated."""
    baseline = REPO / "reports" / "ci-baseline"
    tolerances, records = load_tolerances(baseline), read_records(baseline)
    bounded_names = ("fraction", "accuracy", "error")
    for key in numeric_keys(records):
        band, value = tolerances.band_for(key), lookup(records, key)
        leaf = key.rsplit(".", 1)[-1]
        if band is not None and band.range is not None and isinstance(value, float):
            assert band.range[0] <= value <= band.range[1], (key, value, band.pattern)
        if band is not None and any(name in leaf for name in bounded_names):
            assert band.range is not None, (key, band.pattern)
        if key.startswith("recall.json:") and leaf in ("loss", "accuracy"):
            assert band is not None, key
        if band is not None and band.floor == 0 and band.rel_floor == 0:
            assert key.endswith(".K"), f"{key}: band 0 (exact) for a metric that is not exact by construction"


def test_calibrate_resumes_from_the_seeds_already_run(tmp_path, monkeypatch):
    """Seeds whose folder holds the DONE marker are not rerun; the spread records seeds, their seconds and jobs."""
    from hebbdam import gate

    base, _ = setup(tmp_path, estimates(0.15), estimates(0.15), std=None)
    runs = tmp_path / "runs"
    for seed, value in enumerate((0.14, 0.15, 0.17)):
        write(runs / f"seed{seed}", "capacity.json", estimates(value))
        write(runs / f"seed{seed}", gate.DONE, {"seed": seed, "elapsed_s": 60 + seed})
    monkeypatch.setattr(gate.subprocess, "run", lambda *a, **k: pytest.fail(f"a finished seed was rerun: {a}"))
    monkeypatch.setattr(gate, "head_commit", lambda repo: "abc")
    gate.calibrate(["0", "1", "2"], base, jobs=2, runs_dir=runs)
    spread = json.loads((base / "spread.json").read_text())
    assert spread["seeds"] == [0, 1, 2] and spread["seed_seconds"] == {"0": 60, "1": 61, "2": 62}
    assert spread["jobs"] == 2 and spread["metrics"][KEY]["std"] == pytest.approx(0.015275, abs=1e-6)
    assert not runs.exists()  # removed once the spread is written


def test_calibrate_defaults_to_five_seeds_and_refuses_bad_seeds(tmp_path, run_cli, capsys, monkeypatch):
    from hebbdam import gate

    called = {}
    monkeypatch.setattr(gate, "calibrate", lambda seeds, base, jobs: called.update(seeds=seeds, jobs=jobs))
    assert run_cli("gate", "calibrate", "jobs=3") == 0
    assert called == {"seeds": ["0", "1", "2", "3", "4"], "jobs": 3}
    assert run_cli("gate", "calibrate", "0", "0", "1") == 2
    assert run_cli("gate", "calibrate", "0", "99999999999999999999") == 2
    assert "expected distinct integers in 0..4294967295" in capsys.readouterr().err


# ------------------------------------------------------------------------------- exact keys at the baseline's seed


def exact_setup(tmp_path, old, new):
    base, run = setup(tmp_path, old, new, std=0.004)
    text = (base / "tolerances.yaml").read_text()
    (base / "tolerances.yaml").write_text(text + 'exact:\n  - "capacity.json:arms.hebb.*"\n')
    return base, run


def test_an_exact_key_at_the_baseline_seed_must_equal_it_bit_for_bit(tmp_path):
    """One ulp on an exact quantity fails at the baseline's seed (it would be a CPU- or order-dependent sum), and
    passes its seed band at another seed."""
    moved = 0.15 + 2.0**-55
    (check,) = compare(*exact_setup(tmp_path, estimates(0.15), estimates(moved)), same_seed=True)
    assert not check.passed and check.allowed == 0.0 and "exact" in check.source
    (check,) = compare(*exact_setup(tmp_path, estimates(0.15), estimates(moved)))
    assert check.passed and check.source != "exact at the baseline's seed"
    (check,) = compare(*exact_setup(tmp_path, estimates(0.15), estimates(0.15)), same_seed=True)
    assert check.passed


def test_an_exact_censored_key_must_keep_its_side_and_edge(tmp_path):
    base, run = exact_setup(tmp_path, estimates(None, "above_grid"), estimates(None, "above_grid"))
    assert all(c.passed for c in compare(base, run, same_seed=True))
    base, run = exact_setup(tmp_path, estimates(None, "above_grid"), estimates(0.2))
    assert not all(c.passed for c in compare(base, run, same_seed=True))


def test_the_exact_list_is_checked_when_the_tolerances_load(tmp_path):
    base, _ = setup(tmp_path, estimates(0.15), estimates(0.15))
    (base / "tolerances.yaml").write_text((base / "tolerances.yaml").read_text() + "exact: [no_colon]\n")
    with pytest.raises(HebbdamError, match="'exact' must be a list"):
        load_tolerances(base)


def test_each_experiment_keeps_its_bands_in_its_own_file_and_their_order_changes_no_band(tmp_path):
    """tolerances/<stage>.yaml holds one experiment's bands, exact keys and orderings, read after the shared
    tolerances.yaml. Every committed baseline key gets the same band whichever order the stage files are read in
    (a stage file's patterns never match another stage's keys), and the stage files are read at all (without them
    keys fall back to the shared rules)."""
    committed = REPO / "reports" / "ci-baseline"
    keys = numeric_keys(read_records(committed))
    tolerances = load_tolerances(committed)
    shared_only = tmp_path / "shared"
    shared_only.mkdir()
    shutil.copy(committed / "tolerances.yaml", shared_only)
    shared = load_tolerances(shared_only)
    stage_files = sorted((committed / "tolerances").glob("*.yaml"), reverse=True)
    backwards = shared.bands + [band for f in stage_files for band in parse_rules(f, yaml.safe_load(f.read_text()))[0]]
    for key in keys:
        assert tolerances.band_for(key) == next((b for b in backwards if fnmatch.fnmatchcase(key, b.pattern)), None)
    assert sum(tolerances.band_for(key) != shared.band_for(key) for key in keys) > 1000  # 1,949 at present


@pytest.mark.parametrize(
    ("name", "text", "error"),
    [
        ("capacity", 'metrics:\n  "sparse.json:arms.*.x": {floor: 0.1, default: 0.1}\n', "not a key of the capacity"),
        ("capacity", 'exact: ["ladder_dense.json:arms.power*"]\n', "not a key of the capacity"),
        ("capacity", 'orderings: ["capacity.json:a > sparse.json:b"]\n', "not a key of the capacity"),
        ("capacity", "multiple: 4\n", "'multiple' belongs in tolerances.yaml"),
        ("budget", "metrics: {}\n", "stage files must not overlap"),
    ],
)
def test_a_stage_file_that_reaches_into_another_stage_is_refused(tmp_path, name, text, error):
    base, _ = setup(tmp_path, estimates(0.15), estimates(0.15))
    (base / "tolerances").mkdir()
    (base / "tolerances" / f"{name}.yaml").write_text(text)
    (base / "tolerances" / "budget_patterns.yaml").write_text("metrics: {}\n")
    with pytest.raises(HebbdamError, match=error):
        load_tolerances(base)


def test_the_committed_exact_list_names_keys_of_the_baseline_and_no_float_arm():
    tolerances = load_tolerances(REPO / "reports" / "ci-baseline")
    keys = numeric_keys(read_records(REPO / "reports" / "ci-baseline"))
    for pattern in tolerances.exact:
        assert any(fnmatch.fnmatchcase(key, pattern) for key in keys), f"{pattern} matches no baseline key"
    floats = ("pseudo_inverse", "dreaming", "backprop", "features", "krotov", "softmax", "pinv")
    exact_keys = [key for key in keys if tolerances.is_exact(key)]
    assert exact_keys and not [k for k in exact_keys if any(word in k.partition(":")[2] for word in floats)]


def test_a_value_a_calibration_seed_gave_is_seed_noise_and_one_between_the_modes_is_not(tmp_path):
    """A metric whose calibration seeds split into two modes (0.15 and 0.30, σ small within each): a run in the
    other mode passes, as the calibration seeds themselves must; a value between the modes fails; a censored value
    passes only on a side a seed was censored on."""
    spread = {"std": 0.004, "states": ["number", "above_grid"], "values": [0.15, 0.151, 0.30, "above_grid"]}

    def check(new):
        base, run = setup(tmp_path, estimates(0.15), new)
        write(base, "spread.json", {"metrics": {KEY: spread}})
        (result,) = [c for c in compare(base, run) if c.key == KEY]
        return result

    assert check(estimates(0.301)).passed and check(estimates(0.301)).source == "near a calibration seed"
    assert not check(estimates(0.23)).passed
    assert check(estimates(None, "above_grid")).passed
    assert not check(estimates(None, "below_grid")).passed
