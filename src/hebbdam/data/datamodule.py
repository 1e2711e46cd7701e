"""LightningDataModules over prepared files, one per source, and one over a sequence's transitions.

The modules never download or prepare: that is the job of the DVC stages (``hebbdam download`` / ``prepare``), so
every run reads exactly the bytes the manifest describes. A missing file ends with one line naming it.
"""

from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl
import torch
from torch import Tensor
from torch.utils.data import DataLoader, TensorDataset

from . import prepare, sources
from .sequences import transitions


class PreparedDataModule(pl.LightningDataModule):
    """Batches (x (B, D), y (B,)) of a prepared source; ``binary``: x is the ±1 version as float32.

    ``limit`` keeps the first rows of each split (their order is already fixed by the prepare seed).
    Sources prepared with a validation split (mnist5k) validate on it; the others validate on the test split.
    """

    source: str = ""

    def __init__(
        self,
        root: str | Path = "data",
        batch_size: int = 256,
        binary: bool = False,
        limit: int | None = None,
        shuffle: bool = False,
        source: str | None = None,
    ):
        super().__init__()
        self.source = source or self.source
        if self.source not in sources.ALL:
            raise ValueError(f"source: expected one of {', '.join(sources.ALL)}, got {self.source!r}")
        self.root, self.batch_size, self.binary = Path(root), batch_size, binary
        self.limit, self.shuffle = limit, shuffle
        self.splits: dict[str, TensorDataset] = {}
        self.image_shape: tuple[int, ...] = ()

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        data = prepare.load_processed(self.source, self.root)
        prefix = "b" if self.binary else "x"
        if self.binary and "b_train" not in data:
            raise ValueError(f"binary: {self.source} was prepared without data.binarize_threshold")
        self.image_shape = tuple(int(s) for s in data["image_shape"])
        for split in (s for s in prepare.SPLITS if f"y_{s}" in data):
            x, y = data[f"{prefix}_{split}"].to(torch.float32), data[f"y_{split}"]
            self.splits[split] = TensorDataset(x[: self.limit], y[: self.limit])

    def tensors(self, split: str = "train") -> tuple[Tensor, Tensor]:
        """The whole split as (X (N, D), y (N,)), e.g. the images a memory stores in one shot."""
        self.setup()
        return self.splits[split].tensors  # type: ignore[return-value]

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        self.setup()
        return DataLoader(self.splits[split], batch_size=self.batch_size, shuffle=shuffle)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", self.shuffle)

    def val_dataloader(self) -> DataLoader:
        self.setup()
        return self._loader("val" if "val" in self.splits else "test", False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", False)


class DigitsDataModule(PreparedDataModule):
    source = "digits"


class MNIST5kDataModule(PreparedDataModule):
    source = "mnist5k"


class SyntheticDataModule(PreparedDataModule):
    source = "synthetic"


class MNISTDataModule(PreparedDataModule):
    source = "mnist"


class FashionMNISTDataModule(PreparedDataModule):
    source = "fashion_mnist"


class CIFAR10DataModule(PreparedDataModule):
    source = "cifar10"


DATAMODULES: dict[str, type[PreparedDataModule]] = {
    cls.source: cls
    for cls in (
        DigitsDataModule,
        MNIST5kDataModule,
        SyntheticDataModule,
        MNISTDataModule,
        FashionMNISTDataModule,
        CIFAR10DataModule,
    )
}


def datamodule(name: str, **kwargs) -> PreparedDataModule:
    """The DataModule of source ``name`` (a key of ``DATAMODULES``)."""
    if name not in DATAMODULES:
        raise ValueError(f"name: expected one of {', '.join(DATAMODULES)}, got {name!r}")
    return DATAMODULES[name](**kwargs)


class SequenceDataModule(pl.LightningDataModule):
    """Batches of transitions (ξ_t (B, D), ξ_{t+1} (B, D)) of one sequence (L, D), in order."""

    def __init__(self, sequence: Tensor, batch_size: int = 1024, cyclic: bool = False):
        super().__init__()
        self.sequence, self.batch_size, self.cyclic = sequence, batch_size, cyclic

    def train_dataloader(self) -> DataLoader:
        return DataLoader(TensorDataset(*transitions(self.sequence, self.cyclic)), batch_size=self.batch_size)
