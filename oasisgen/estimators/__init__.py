"""scikit-learn estimators of oasisgen, and :func:`load` for saved ones."""

from oasisgen.estimators._generator import HierarchicalGenerator
from oasisgen.estimators._persistence import load
from oasisgen.estimators._prior import PixelCNNPrior
from oasisgen.estimators._vqvae import VQVAE2Estimator

__all__ = ["HierarchicalGenerator", "PixelCNNPrior", "VQVAE2Estimator", "load"]
