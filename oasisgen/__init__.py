"""oasisgen: reconstruct and generate brain MRI slices with discrete latent models.

A two-level VQ-VAE-2 (Razavi et al. 2019) learns discrete codes of 2D T1-weighted
slices; PixelCNN priors over those codes generate new slices. Everything is a
scikit-learn estimator.

The heavy modules (TensorFlow) load on first use, so ``import oasisgen`` and
``oasisgen.datasets`` stay quick.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0.dev0"

# public name -> module that defines it; imported on first attribute access
_LAZY = {
    "VQVAE2Estimator": "oasisgen.estimators",
    "PixelCNNPrior": "oasisgen.estimators",
    "HierarchicalGenerator": "oasisgen.estimators",
    "load": "oasisgen.estimators",
    "TrainingInterrupted": "oasisgen.estimators",
    "CheckpointWarning": "oasisgen.estimators",
    "datasets": "oasisgen.datasets",
    "metrics": "oasisgen.metrics",
    "preprocessing": "oasisgen.preprocessing",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'oasisgen' has no attribute {name!r}")
    module = importlib.import_module(_LAZY[name])
    value = module if module.__name__ == f"oasisgen.{name}" else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
