"""Associative-memory models: each an energy and a one-step update. Recall loops live in ``hebbdam.dynamics``."""

from .base import BinaryMemory, Memory, sign_keep
from .dense import DenseAM
from .hopfield import Hopfield
from .separation import Exponential, Power, Separation

__all__ = ["BinaryMemory", "DenseAM", "Exponential", "Hopfield", "Memory", "Power", "Separation", "sign_keep"]
