"""Associative-memory models: each an energy and a one-step update. Recall loops live in
``hebbdam.dynamics``."""

from .astrocyte import NeuronAstrocyte
from .base import BinaryMemory, Memory, sign_keep
from .correlation import Amari, Kohonen
from .dense import DenseAM
from .hopfield import Hopfield
from .minerva import Minerva2
from .quadruplets import QuadrupletMemory
from .random_features import GaussianDAM, RandomFeatureDAM
from .separation import Exponential, Power, Separation
from .sequence import SequenceMemory
from .softmax import ModernHopfield
from .universal import UniversalHopfield

__all__ = [
    "Amari",
    "BinaryMemory",
    "DenseAM",
    "Exponential",
    "GaussianDAM",
    "Hopfield",
    "Kohonen",
    "Memory",
    "Minerva2",
    "ModernHopfield",
    "NeuronAstrocyte",
    "QuadrupletMemory",
    "Power",
    "RandomFeatureDAM",
    "Separation",
    "SequenceMemory",
    "UniversalHopfield",
    "sign_keep",
]
