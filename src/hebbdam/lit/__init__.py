"""Lightning modules: Hebbian storage without autograd (and, later, backprop training of the same memories)."""

from .storage import HebbianModule, PatternDataModule, make_trainer, store

__all__ = ["HebbianModule", "PatternDataModule", "make_trainer", "store"]
