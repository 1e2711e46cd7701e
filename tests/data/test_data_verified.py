"""Data read is data verified: a stage refuses a corrupt or truncated prepared file, and prepare a tampered raw file,
each with one line naming the file and the fix (exit 2), never a traceback or silently different numbers."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from hebbdam.data.prepare import PrepareConfig, load_processed, prepare
from hebbdam.errors import HebbdamError

SRC = Path(__file__).resolve().parents[2] / "src" / "hebbdam"


@pytest.fixture
def digits_root(tmp_path):
    root = tmp_path / "data"
    prepare("digits", PrepareConfig(root=root))
    return root


def retrieval_params(compose_params, root: Path) -> Path:
    return compose_params(
        "profile=ci", f"data.root={root}", "retrieval.sizes=[2]", "retrieval.binary_sizes=[2]", "retrieval.runs=1"
    )


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err.strip()


def test_nan_overwrite_of_prepared_digits_stops_the_stage(digits_root, compose_params, run_cli, tmp_path, capsys):
    path = digits_root / "processed" / "digits.pt"
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 4096] = np.full(1024, np.nan, dtype=np.float32).tobytes()  # 4 KB of NaNs, same size
    path.write_bytes(bytes(data))
    params = retrieval_params(compose_params, digits_root)
    assert run_cli("retrieval", "--params", params, "--out", tmp_path / "metrics") == 2
    line = one_error_line(capsys)
    assert line == (
        f"hebbdam: error: {path}: sha256 differs from its manifest (the file was modified); "
        "run `dvc repro prepare` (or `hebbdam prepare digits`) to write it again"
    )
    assert not (tmp_path / "metrics" / "retrieval.json").exists()


def test_truncated_prepared_file_stops_the_stage(digits_root, compose_params, run_cli, tmp_path, capsys):
    path = digits_root / "processed" / "digits.pt"
    size = path.stat().st_size
    path.write_bytes(path.read_bytes()[: size // 3])
    params = retrieval_params(compose_params, digits_root)
    assert run_cli("retrieval", "--params", params, "--out", tmp_path / "metrics") == 2
    line = one_error_line(capsys)
    expected = rf"hebbdam: error: {re.escape(str(path))}: {size // 3} bytes, its manifest says {size} \(truncated.*"
    assert re.fullmatch(expected, line)


def rewrite_consistently(root: Path, change) -> Path:
    """Apply ``change`` to the prepared digits tensors and rewrite the file and its manifest's size and sha256 to
    match, as another tool (or a bug in prepare) would: the manifest check alone cannot catch it."""
    import io as _io

    import torch

    path = root / "processed" / "digits.pt"
    tensors = torch.load(path, weights_only=True)
    change(tensors)
    buffer = _io.BytesIO()
    torch.save(tensors, buffer)
    data = buffer.getvalue()
    path.write_bytes(data)
    manifest_path = path.with_suffix(".json")
    manifest = json.loads(manifest_path.read_text())
    manifest.update(bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
    manifest_path.write_text(json.dumps(manifest))
    return path


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda t: t["x_train"].__setitem__((3, 5), float("nan")), "tensor 'x_train' holds nan at flat index 197"),
        (lambda t: t.__setitem__("x_test", t["x_test"].to(__import__("torch").int64)), "'x_test' is torch.int64"),
        (lambda t: t["x_train"].__setitem__((0, 0), 7.0), "holds 7.0 at flat index 0, expected intensities in [0, 1]"),
        (lambda t: t["y_train"].__setitem__(0, 10), "tensor 'y_train' holds 10"),
    ],
    ids=["nan", "int64", "out-of-range", "label"],
)
def test_processed_data_matching_its_manifest_is_still_checked(digits_root, compose_params, tmp_path, change, message):
    """NaN, a wrong dtype or values outside the source's range stop the stage with one line (exit 2)."""
    import subprocess
    import sys

    path = rewrite_consistently(digits_root, change)
    with pytest.raises(HebbdamError, match=re.escape(message)):
        load_processed("digits", digits_root)
    params = retrieval_params(compose_params, digits_root)
    command = [sys.executable, "-m", "hebbdam.cli", "retrieval", "--params", str(params), "--out", str(tmp_path / "m")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"hebbdam: error: {path}: ") and message in result.stderr
    assert not (tmp_path / "m").exists()


def test_missing_manifest_and_intact_file(digits_root):
    assert load_processed("digits", digits_root)["x_train"].shape == (1438, 64)
    (digits_root / "processed" / "digits.json").unlink()
    with pytest.raises(HebbdamError, match=r"digits.json: manifest not found, so digits.pt cannot be verified"):
        load_processed("digits", digits_root)


def test_prepare_rechecks_raw_checksums(tmp_path, fakes, run_cli, capsys):
    root = tmp_path / "data"
    folder = root / "raw" / "mnist"
    folder.mkdir(parents=True)
    files = fakes.mnist(n_train=10, n_test=5)
    for filename, data in files.items():
        (folder / filename).write_bytes(data)
    (root / "raw" / "downloads.json").write_text(json.dumps({"mnist": {f: fakes.md5(d) for f, d in files.items()}}))
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"data": {"sources": ["mnist"], "root": str(root)}}))
    assert run_cli("prepare", "--params", params) == 0
    capsys.readouterr()
    tampered = folder / "t10k-labels-idx1-ubyte.gz"
    data = bytearray(tampered.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte
    tampered.write_bytes(bytes(data))
    assert run_cli("prepare", "--params", params) == 2
    line = one_error_line(capsys)
    got = hashlib.md5(tampered.read_bytes(), usedforsecurity=False).hexdigest()
    assert line == (
        f"hebbdam: error: {tampered}: md5 {got} differs from the verified download "
        f"({fakes.md5(files[tampered.name])}); delete it and run `hebbdam download mnist` again"
    )


def test_every_stage_reads_processed_data_through_load_processed():
    """One definition: no module but data/prepare.py opens a prepared tensor file itself."""
    readers = [p.relative_to(SRC).as_posix() for p in SRC.rglob("*.py") if "torch.load(" in p.read_text()]
    assert readers == ["data/prepare.py"]
