"""Readers on test-made raw files, prepare determinism (same seed → same sha256), the CLI, conf/data and DataModules."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from hebbdam import cli
from hebbdam.composition import compose
from hebbdam.data import readers
from hebbdam.data.config import PrepareConfig, SyntheticConfig
from hebbdam.data.prepare import load_processed, prepare, tensor_sha256
from hebbdam.errors import HebbdamError

REPO = Path(__file__).resolve().parents[2]


def write_raw(root: Path, name: str, files: dict[str, bytes]) -> None:
    """Raw files as `hebbdam download` leaves them: the files, and their md5s in raw/downloads.json."""
    folder = root / "raw" / name
    folder.mkdir(parents=True, exist_ok=True)
    for filename, data in files.items():
        (folder / filename).write_bytes(data)
    record_path = root / "raw" / "downloads.json"
    record = json.loads(record_path.read_text()) if record_path.is_file() else {}
    record[name] = {filename: hashlib.md5(data, usedforsecurity=False).hexdigest() for filename, data in files.items()}
    record_path.write_text(json.dumps(record))


def test_read_idx_and_bad_magic(tmp_path, fakes):
    write_raw(tmp_path, "mnist", fakes.mnist(n_train=7, n_test=3))
    splits = readers.read_mnist(tmp_path / "raw" / "mnist")
    assert splits["train"][0].shape == (7, 1, 28, 28) and splits["test"][1].tolist() == [0, 1, 2]
    bad = tmp_path / "bad.gz"
    bad.write_bytes(gzip.compress(b"\x00\x00\x0d\x01" + (3).to_bytes(4, "big") + b"abc"))
    with pytest.raises(HebbdamError, match="bad magic"):
        readers.read_idx(bad)
    short = tmp_path / "short.gz"
    short.write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x05ab"))
    with pytest.raises(HebbdamError, match=r"shape \(5,\) but the file holds 2 bytes"):
        readers.read_idx(short)


def test_prepare_mnist_and_cifar_from_raw(tmp_path, fakes):
    mnist, cifar = fakes.mnist(n_train=30, n_test=10), fakes.cifar(per_batch=4)
    write_raw(tmp_path, "mnist", mnist)
    write_raw(tmp_path, "cifar10", cifar)
    config = PrepareConfig(root=tmp_path, seed=3)
    m = prepare("mnist", config)
    assert m["tensors"]["x_train"]["shape"] == [30, 784] and m["tensors"]["x_test"]["shape"] == [10, 784]
    assert m["split"] == "official train/test split" and m["licence"].startswith("CC BY-SA")
    data = load_processed("mnist", tmp_path)
    raw = readers.read_mnist(tmp_path / "raw" / "mnist")["train"][0].reshape(30, -1).astype(np.float32) / 255
    # the same rows, reordered by the seed; values exactly raw/255
    order = [int(np.flatnonzero((raw == row.numpy()).all(1))[0]) for row in data["x_train"]]
    assert sorted(order) == list(range(30)) and order != list(range(30))
    assert torch.equal(data["y_train"], torch.tensor(order) % 10)
    c = prepare("cifar10", config)
    assert c["tensors"]["x_train"]["shape"] == [20, 3072] and c["image_shape"] == [3, 32, 32]
    x = load_processed("cifar10", tmp_path)["x_test"]
    assert x.dtype == torch.float32 and float(x.min()) >= 0.0 and float(x.max()) <= 1.0


def test_prepare_is_deterministic(tmp_path):
    a = prepare("digits", PrepareConfig(root=tmp_path / "a", seed=5))
    b = prepare("digits", PrepareConfig(root=tmp_path / "b", seed=5))
    c = prepare("digits", PrepareConfig(root=tmp_path / "c", seed=6))
    assert a["sha256"] == b["sha256"] and a["tensors"] == b["tensors"]
    assert (tmp_path / "a/processed/digits.pt").read_bytes() == (tmp_path / "b/processed/digits.pt").read_bytes()
    assert c["sha256"] != a["sha256"] and c["tensors"]["x_train"]["sha256"] != a["tensors"]["x_train"]["sha256"]
    # another process (another temporary file name) writes the same bytes
    code = (
        "from pathlib import Path; from hebbdam.data.prepare import PrepareConfig, prepare;"
        f"print(prepare('digits', PrepareConfig(root=Path({str(tmp_path / 'd')!r}), seed=5))['sha256'])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == a["sha256"]


def test_digits_split_ranges_and_binary(tmp_path):
    manifest = prepare("digits", PrepareConfig(root=tmp_path, seed=0, test_fraction=0.25))
    data = load_processed("digits", tmp_path)
    n_train, n_test = len(data["x_train"]), len(data["x_test"])
    assert n_train + n_test == 1797 and n_test == round(0.25 * 1797)
    x = torch.cat([data["x_train"], data["x_test"]])
    assert x.dtype == torch.float32 and float(x.min()) == 0.0 and float(x.max()) == 1.0
    assert torch.equal(torch.unique(x * 16), torch.arange(17, dtype=torch.float32))  # exact 0…16 / 16
    assert torch.equal(data["b_train"], torch.where(data["x_train"] > 0.5, 1, -1).to(torch.int8))
    assert manifest["tensors"]["y_test"]["sha256"] == tensor_sha256(data["y_test"])
    assert manifest["classes"] == 10 and manifest["image_shape"] == [1, 8, 8]


def test_synthetic_source_overlaps(tmp_path):
    synthetic = SyntheticConfig(count=300, dim=200, epsilon=0.0, parents=3, overlap=0.6)
    prepare("synthetic", PrepareConfig(root=tmp_path, synthetic=synthetic, binarize_threshold=0.5))
    data = load_processed("synthetic", tmp_path)
    xi = torch.cat([data["b_train"], data["b_test"]]).float()
    assert torch.equal(torch.cat([data["x_train"], data["x_test"]]) * 2 - 1, xi)  # x = (ξ + 1)/2 exactly
    labels = torch.cat([data["y_train"], data["y_test"]])
    same = labels[:, None] == labels[None, :]
    overlaps = xi @ xi.T / 200
    off_diag = same & ~torch.eye(300, dtype=torch.bool)
    # children of one parent overlap ≈ 0.6² = 0.36, of different parents ≈ 0
    assert abs(float(overlaps[off_diag].mean()) - 0.36) < 0.03
    assert abs(float(overlaps[~same].mean())) < 0.03


def test_missing_raw_file_names_it(tmp_path):
    with pytest.raises(HebbdamError, match=r"raw/fashion_mnist/train-images-idx3-ubyte.gz: not found"):
        prepare("fashion_mnist", PrepareConfig(root=tmp_path))
    with pytest.raises(HebbdamError, match=r"processed/mnist.pt: not found"):
        load_processed("mnist", tmp_path)


def compose_data(overrides: list[str], tmp_path: Path) -> dict:
    """Compose only conf/data (with a minimal primary config), as the lead's config.yaml will."""
    conf = tmp_path / "conf"
    shutil.copytree(REPO / "conf" / "data", conf / "data", dirs_exist_ok=True)
    (conf / "config.yaml").write_text("defaults:\n  - data: offline\n  - _self_\nseed: 0\n")
    return yaml.safe_load(compose(overrides, conf))


def test_conf_data_profiles(tmp_path):
    offline = compose_data([], tmp_path)["data"]
    assert offline["sources"] == ["digits", "mnist5k", "synthetic"]  # laptop and ci: no network needed
    paper = compose_data(["data=paper", "seed=4"], tmp_path)["data"]
    assert paper["sources"] == ["digits", "mnist5k", "synthetic", "mnist", "fashion_mnist", "cifar10"]
    assert paper["seed"] == 4 and paper["synthetic"] == offline["synthetic"]


def test_cli_prepare_offline_profile(tmp_path, capsys):
    params = compose_data(["data.synthetic.count=50"], tmp_path)
    params["data"]["root"] = str(tmp_path / "data")
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    assert cli.main(["download", "--params", str(path)]) == 0
    assert cli.main(["prepare", "--params", str(path)]) == 0
    first = {
        n: json.loads((tmp_path / f"data/processed/{n}.json").read_text()) for n in ("digits", "mnist5k", "synthetic")
    }
    assert first["synthetic"]["tensors"]["x_train"]["shape"] == [40, 100]
    assert cli.main(["prepare", "--params", str(path)]) == 0
    again = {
        n: json.loads((tmp_path / f"data/processed/{n}.json").read_text()) for n in ("digits", "mnist5k", "synthetic")
    }
    assert again == first
    params["data"]["test_fraction"] = 1.5
    path.write_text(yaml.safe_dump(params))
    capsys.readouterr()
    assert cli.main(["prepare", "--params", str(path)]) == 2
    assert capsys.readouterr().err.strip() == (
        "hebbdam: error: params key 'data.test_fraction': expected a number in [0, 1), got 1.5"
    )


def test_cli_prepare_defaults_and_missing_raw_first(tmp_path, capsys):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump({"data": {"sources": ["digits", "mnist"], "root": str(tmp_path)}}))
    assert cli.main(["prepare", "--params", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"hebbdam: error: {tmp_path}/raw/mnist/train-images-idx3-ubyte.gz: not found "
        "(add mnist to data.sources and run `hebbdam download` first)"
    )
    assert not (tmp_path / "processed").exists()  # nothing written before the check
    assert cli.main(["prepare", "--params", str(path), "digits"]) == 0
    manifest = json.loads((tmp_path / "processed" / "digits.json").read_text())
    assert manifest["seed"] == 0 and manifest["binarize_threshold"] == 0.5 and manifest["split"] == "test_fraction 0.2"
