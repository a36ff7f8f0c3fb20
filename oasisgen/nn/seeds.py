"""Seeds for the layers of one model, drawn from the model's own seed.

Keras gives an initializer or a dropout layer made without a seed one drawn from
Python's global :mod:`random`. :func:`keras.utils.set_random_seed` makes that
repeatable in one thread, but another thread that draws from :mod:`random`
meanwhile (a Dask worker's event loop does) changes the weights a model starts
from. The models of :mod:`oasisgen.nn` therefore give each layer a seed of its
own, derived from the model's ``seed``; without one, Keras draws as usual.
"""

from __future__ import annotations

import keras
import numpy as np


class LayerSeeds:
    """Hand out distinct, repeatable seeds to the layers of one model.

    Parameters
    ----------
    seed : int or None
        The model's seed; None hands out None, leaving Keras to draw seeds.

    Examples
    --------
    >>> seeds = LayerSeeds(0)
    >>> first, second = seeds(), seeds()
    >>> first != second, LayerSeeds(0)() == first
    (True, True)
    >>> LayerSeeds(None)() is None
    True
    """

    def __init__(self, seed: int | None) -> None:
        self.seed = seed
        self._drawn = 0

    def __call__(self) -> int | None:
        """Return the next seed (below 2**31), or None for an unseeded model."""
        if self.seed is None:
            return None
        self._drawn += 1
        entropy = [int(self.seed) % 2**64, self._drawn]
        return int(np.random.SeedSequence(entropy).generate_state(1)[0] >> 1)

    def glorot(self) -> keras.initializers.Initializer:
        """Return Keras' default kernel initializer, with the next seed."""
        return keras.initializers.GlorotUniform(seed=self())

    def uniform(self) -> keras.initializers.Initializer:
        """Return Keras' default embedding initializer, with the next seed."""
        return keras.initializers.RandomUniform(-0.05, 0.05, seed=self())
