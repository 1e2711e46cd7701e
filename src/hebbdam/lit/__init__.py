"""Lightning modules: Hebbian storage without autograd and backprop training of the same memories."""

from .data import EpochSampler, PatternDataModule, digits
from .storage import HebbianModule, store
from .trainer import build_trainer, fit

__all__ = ["EpochSampler", "HebbianModule", "PatternDataModule", "build_trainer", "digits", "fit", "store"]
