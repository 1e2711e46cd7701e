"""engine.precision: the retrieval record at float32, tf32 and bfloat16 agrees within a stated tolerance on CPU."""

from __future__ import annotations

import json

import pytest
import torch

from hebbdam.engine import PRECISIONS, precision

from ..conftest import compose_file
from .test_retrieval import TINY

# Largest difference of a fraction retrieved (a mean over runs and sizes) between float32 and another precision.
# tf32 is float32 on a CPU: 0. bfloat16 keeps 8 mantissa bits, so dot scores move by ~0.4% and the odd query at the
# threshold flips: measured 0.0125 on this config (one query in 80); the bound is 0.05 (four queries in 80).
TOLERANCE = {"float32": 0.0, "tf32": 0.0, "bfloat16": 0.05}


def _fractions(record: dict, prefix: str = "") -> dict[str, float]:
    flat = {}
    for key, value in record.items():
        if isinstance(value, dict):
            flat.update(_fractions(value, f"{prefix}{key}/"))
        elif isinstance(value, float):
            flat[prefix + key] = value
    return flat


@pytest.fixture(scope="module")
def records(tmp_path_factory, prepared):
    from hebbdam.cli import main

    root = tmp_path_factory.mktemp("precision")
    out = {}
    for name in PRECISIONS:
        params = compose_file(root / f"{name}.yaml", [*TINY, f"data.root={prepared}", f"engine.precision={name}"])
        assert main(["retrieval", "--params", str(params), "--out", str(root / name)]) == 0
        record = json.loads((root / name / "retrieval.json").read_text())
        out[name] = _fractions({"uhn": record["uhn"], "binary": record["binary"]})
    return out


@pytest.mark.parametrize("name", PRECISIONS)
def test_each_precision_agrees_with_float32_within_its_tolerance(records, name):
    reference, got = records["float32"], records[name]
    assert got.keys() == reference.keys() and len(got) > 20
    worst = max(abs(got[key] - reference[key]) for key in reference)
    assert worst <= TOLERANCE[name], f"{name}: largest difference {worst:.3f} > {TOLERANCE[name]}"


def test_bfloat16_runs_the_matmuls_in_bfloat16_and_restores_float32():
    a = torch.randn(4, 8)
    with precision("bfloat16", torch.device("cpu")):
        assert (a @ a.T).dtype == torch.bfloat16
    assert (a @ a.T).dtype == torch.float32 and torch.get_float32_matmul_precision() == "highest"
    with pytest.raises(ValueError, match="precision: expected one of float32, tf32, bfloat16"):
        precision("fp8", torch.device("cpu")).__enter__()


def test_unknown_precision_is_refused_naming_the_key(prepared, run_cli, tmp_path, capsys):
    from hebbdam.errors import HebbdamError

    with pytest.raises(HebbdamError, match="engine.precision"):
        compose_file(tmp_path / "bad.yaml", [*TINY, f"data.root={prepared}", "engine.precision=fp8"])
    params = compose_file(tmp_path / "params.yaml", [*TINY, f"data.root={prepared}"])
    params.write_text(params.read_text().replace("precision: float32", "precision: fp8"))  # edited by hand
    assert run_cli("retrieval", "--params", params, "--out", tmp_path / "out") == 2
    assert "engine.precision" in capsys.readouterr().err
