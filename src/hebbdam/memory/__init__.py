"""Associative-memory models: each an energy and a one-step update. Recall loops live in
``hebbdam.dynamics``."""

from .astrocyte import NeuronAstrocyte
from .base import BinaryMemory, Memory, sign_keep
from .correlation import Amari, Kohonen
from .dense import DenseAM, KeyedDenseAM
from .hopfield import Hopfield
from .minerva import Minerva2
from .quadruplets import QuadrupletMemory
from .random_features import GaussianDAM, RandomFeatureDAM
from .registry import TARGETS, MemoryKind, build, default_kind, get_kind, kind_names, kind_of, kinds_accepting
from .separation import Exponential, Power, Separation
from .sequence import PseudoInverseSequence, SequenceMemory
from .simplicial import SimplicialMemory
from .softmax import ModernHopfield
from .sparse import BCPNN, Holographic, ProjectionNetwork, ThresholdNetwork, Willshaw
from .universal import UniversalHopfield

__all__ = [
    "Amari",
    "BCPNN",
    "Holographic",
    "ProjectionNetwork",
    "ThresholdNetwork",
    "Willshaw",
    "BinaryMemory",
    "DenseAM",
    "KeyedDenseAM",
    "Exponential",
    "GaussianDAM",
    "Hopfield",
    "Kohonen",
    "Memory",
    "MemoryKind",
    "Minerva2",
    "ModernHopfield",
    "NeuronAstrocyte",
    "QuadrupletMemory",
    "TARGETS",
    "Power",
    "PseudoInverseSequence",
    "RandomFeatureDAM",
    "Separation",
    "SequenceMemory",
    "SimplicialMemory",
    "UniversalHopfield",
    "build",
    "default_kind",
    "get_kind",
    "kind_names",
    "kind_of",
    "kinds_accepting",
    "sign_keep",
]
