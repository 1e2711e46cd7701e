"""The CI regression gate passes within tolerance and fails, with a table, outside it."""

from __future__ import annotations

import json

from hebbdam.gate import compare, flatten


def write(folder, name, obj):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps(obj))


def setup_dirs(tmp_path, new_value, tolerance="{abs: 0.03}"):
    base, new = tmp_path / "base", tmp_path / "new"
    write(base, "capacity.json", {"arms": {"hebb": {"D100": {"critical_load": 0.15, "label": "x"}}}})
    write(new, "capacity.json", {"arms": {"hebb": {"D100": {"critical_load": new_value}}}})
    (base / "tolerances.yaml").write_text(f'"capacity.json:arms.*.critical_load": {tolerance}\n')
    return base, new


def test_flatten_keeps_numbers_and_nulls_only():
    assert flatten({"a": {"b": 1, "c": "s", "d": None, "e": [1, 2], "f": True}}) == {"a.b": 1.0, "a.d": None}


def test_gate_passes_within_and_fails_outside_tolerance(tmp_path, run_cli, capsys):
    base, new = setup_dirs(tmp_path, 0.17)
    assert all(c.passed for c in compare(base, new))
    base, new = setup_dirs(tmp_path, 0.19)
    assert run_cli("gate", "--baseline", base, "--metrics", new) == 2
    out = capsys.readouterr()
    assert "capacity.json:arms.hebb.D100.critical_load" in out.out and "FAIL" in out.out
    assert "0.15" in out.out and "0.19" in out.out and "0.03" in out.out
    assert "1 of 1 metrics moved outside" in out.err


def test_gate_fails_when_a_gated_metric_disappears(tmp_path):
    base, new = setup_dirs(tmp_path, 0.15)
    write(new, "capacity.json", {"arms": {}})
    assert not any(c.passed for c in compare(base, new))


def test_gate_relative_tolerance(tmp_path):
    base, new = setup_dirs(tmp_path, 0.16, tolerance="{rel: 0.1}")
    assert all(c.passed for c in compare(base, new))
    base, new = setup_dirs(tmp_path, 0.17, tolerance="{rel: 0.1}")
    assert not any(c.passed for c in compare(base, new))
