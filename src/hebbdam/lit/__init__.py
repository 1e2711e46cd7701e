"""Lightning modules: Hebbian storage without autograd and backprop training of the same memories."""

from .data import EpochSampler, PatternDataModule, digits
from .storage import HebbianModule, make_trainer, store

__all__ = ["EpochSampler", "HebbianModule", "PatternDataModule", "digits", "make_trainer", "store"]
