"""scikit-learn estimators of oasisgen, and :func:`load` for saved ones."""

from oasisgen.estimators._persistence import load
from oasisgen.estimators._vqvae import VQVAE2Estimator

__all__ = ["VQVAE2Estimator", "load"]
