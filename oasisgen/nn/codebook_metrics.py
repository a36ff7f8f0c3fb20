"""Keras metrics of codebook use, accumulated over an epoch.

Both metrics count how often each code was chosen since the last reset, so the value
shown at the end of an epoch describes the whole epoch, not the last batch.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf


class _CodeCounts(keras.metrics.Metric):
    """Base class: a histogram of codes, summed across batches and replicas."""

    def __init__(self, num_embeddings: int, name: str, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.num_embeddings = int(num_embeddings)
        self.counts = self.add_variable(
            shape=(self.num_embeddings,), initializer="zeros", name="counts"
        )

    def update_state(self, codes: tf.Tensor, sample_weight: Any = None) -> None:
        """Add the codes of one batch to the histogram."""
        flat = tf.reshape(tf.cast(codes, "int32"), (-1,))
        self.counts.assign_add(
            tf.math.unsorted_segment_sum(  # not bincount: XLA compiles this
                tf.ones_like(flat, dtype=self.counts.dtype), flat, self.num_embeddings
            )
        )

    def reset_state(self) -> None:
        """Empty the histogram."""
        self.counts.assign(tf.zeros_like(self.counts))

    def get_config(self) -> dict[str, Any]:
        """Return the constructor arguments."""
        return {"num_embeddings": self.num_embeddings, "name": self.name}


@keras.saving.register_keras_serializable(package="oasisgen")
class CodebookUsage(_CodeCounts):
    """Fraction of the codebook chosen at least once since the last reset.

    Parameters
    ----------
    num_embeddings : int
        Size of the codebook.
    name : str, default="usage"
        Metric name.
    **kwargs
        Passed to :class:`keras.metrics.Metric`.

    Examples
    --------
    >>> from oasisgen.nn import CodebookUsage
    >>> usage = CodebookUsage(num_embeddings=4)
    >>> usage.update_state([0, 1, 1])
    >>> float(usage.result())
    0.5
    """

    def __init__(self, num_embeddings: int, name: str = "usage", **kwargs: Any):
        super().__init__(num_embeddings, name=name, **kwargs)

    def result(self) -> tf.Tensor:
        """Return the used fraction."""
        used = tf.math.count_nonzero(self.counts > 0, dtype=self.counts.dtype)
        return used / self.num_embeddings


@keras.saving.register_keras_serializable(package="oasisgen")
class CodebookPerplexity(_CodeCounts):
    """Perplexity of the codes chosen since the last reset: exp(entropy).

    Equals the number of codes in use when they are used equally often, and 1 when
    a single code takes everything.

    Parameters
    ----------
    num_embeddings : int
        Size of the codebook.
    name : str, default="perplexity"
        Metric name.
    **kwargs
        Passed to :class:`keras.metrics.Metric`.

    Examples
    --------
    >>> from oasisgen.nn import CodebookPerplexity
    >>> perplexity = CodebookPerplexity(num_embeddings=8)
    >>> perplexity.update_state([0, 1, 2, 3])
    >>> round(float(perplexity.result()), 4)
    4.0
    """

    def __init__(self, num_embeddings: int, name: str = "perplexity", **kwargs: Any):
        super().__init__(num_embeddings, name=name, **kwargs)

    def result(self) -> tf.Tensor:
        """Return exp of the entropy of the code histogram."""
        total = tf.maximum(tf.reduce_sum(self.counts), 1.0)
        probs = self.counts / total
        entropy = -tf.reduce_sum(tf.math.xlogy(probs, probs))
        return tf.exp(entropy)
