"""Let Keras 3 reduce a model's logs under a multi-worker strategy.

Keras 3 reduces the metrics a ``train_step`` returns with
``strategy.reduce("MEAN", value, axis=0)`` when it trains under a
``MultiWorkerMirroredStrategy`` in multi-worker mode, which fails for the scalar
metrics every model returns ("Invalid reduction dimension 0 for input with 0
dimensions"; tensorflow/tensorflow#72388). Returning each metric as a vector of one
element gives that reduction an axis 0 to take the mean over, and the logs come
out as scalars again. Elsewhere the logs pass through untouched.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf


def in_multi_worker_mode(strategy: tf.distribute.Strategy) -> bool:
    """Say whether ``strategy`` spans several workers (the case Keras mishandles).

    Parameters
    ----------
    strategy : tf.distribute.Strategy

    Returns
    -------
    multi_worker : bool

    Examples
    --------
    >>> in_multi_worker_mode(tf.distribute.get_strategy())
    False
    """
    return (
        isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
        and strategy.extended._in_multi_worker_mode()
    )


def reducible_logs(logs: dict[str, Any]) -> dict[str, Any]:
    """Return ``logs`` in the shape Keras can reduce under the current strategy.

    Parameters
    ----------
    logs : dict of str to scalar tensor
        What a ``train_step`` or ``test_step`` returns.

    Returns
    -------
    logs : dict of str to tensor
        Vectors of one element in multi-worker mode, else ``logs`` itself.

    Examples
    --------
    >>> logs = {"loss": tf.constant(0.5)}
    >>> reducible_logs(logs) is logs
    True
    """
    if not in_multi_worker_mode(tf.distribute.get_strategy()):
        return logs
    return {name: tf.reshape(value, [1]) for name, value in logs.items()}


class MultiWorkerLogsMixin:
    """Make a Keras model's train and test steps return reducible logs.

    Put it before :class:`keras.Model` among a model's bases.
    """

    def train_step(self, data: Any) -> dict[str, Any]:
        """Run the model's training step; return its logs in a reducible shape."""
        return reducible_logs(super().train_step(data))  # type: ignore[misc]

    def test_step(self, data: Any) -> dict[str, Any]:
        """Run the model's test step; return its logs in a reducible shape."""
        return reducible_logs(super().test_step(data))  # type: ignore[misc]
