"""scikit-learn estimators of oasisgen, and :func:`load` for saved ones."""

from oasisgen.estimators._checkpoints import CheckpointWarning
from oasisgen.estimators._generator import HierarchicalGenerator
from oasisgen.estimators._persistence import load
from oasisgen.estimators._prior import PixelCNNPrior
from oasisgen.estimators._training import TrainingInterrupted
from oasisgen.estimators._vqvae import VQVAE2Estimator

__all__ = [
    "CheckpointWarning",
    "HierarchicalGenerator",
    "PixelCNNPrior",
    "TrainingInterrupted",
    "VQVAE2Estimator",
    "load",
]
