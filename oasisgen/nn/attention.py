"""Causal self-attention over a code map, for PixelCNN priors that see the whole map.

A gated PixelCNN sees ``k // 2`` more rows and columns per layer, so on a large
grid a code is drawn without the codes far above it: the top prior of a 128-pixel
VQ-VAE-2 reads a 16x16 grid, of a 256-pixel one 32x32. The priors of the VQ-VAE-2
paper (Razavi et al. 2019) add multi-head self-attention layers for that reason.
:class:`CausalSelfAttention` is one such layer: every position attends to itself
and to every position before it in raster order, on the horizontal stack of a
:class:`~oasisgen.nn.pixelcnn.GatedPixelCNN`, whose features at a position depend
only on the codes before it.

::

    h (n, H, W, c) -> layer norm + projected (row, column) features
      -> queries, keys, values (heads x c // heads)
      -> softmax(q k^T / sqrt(d), positions after each one masked) v
      -> 1x1 projection (zeros at first: the layer starts as the identity) -> + h

:meth:`CausalSelfAttention.step` computes one position from cached keys and values,
for the fast sampler (:mod:`oasisgen.nn.sampling`); it gives what :meth:`call`
gives at that position, to float round-off.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import tensorflow as tf

from oasisgen.nn.seeds import LayerSeeds

# angular frequencies of the (row, column) features: periods of 2 pi to 64 pi
# codes, so positions are told apart on grids up to a few hundred codes a side
_FREQUENCIES = tuple(2.0**-k for k in range(6))


def position_features(rows: tf.Tensor, columns: tf.Tensor) -> tf.Tensor:
    """Return sines and cosines of the row and column of each position.

    Parameters
    ----------
    rows, columns : tensor of shape (m,)
        Row and column indices.

    Returns
    -------
    features : float32 tensor of shape (m, 4 * 6)
    """
    frequencies = tf.constant(_FREQUENCIES, tf.float32)
    angles = tf.concat(
        [
            tf.cast(rows, tf.float32)[:, None] * frequencies,
            tf.cast(columns, tf.float32)[:, None] * frequencies,
        ],
        axis=-1,
    )
    return tf.concat([tf.sin(angles), tf.cos(angles)], axis=-1)


@keras.saving.register_keras_serializable(package="oasisgen")
class CausalSelfAttention(keras.layers.Layer):
    """Multi-head self-attention in raster order, added to its input.

    Parameters
    ----------
    channels : int
        Channels of the input and the output.
    heads : int, default=4
        Attention heads, each of ``max(1, channels // heads)`` channels.
    seed : int, optional
        Seed of the initial weights.
    **kwargs
        Passed to :class:`keras.layers.Layer`.

    Notes
    -----
    ``call(h)`` takes a map (n, H, W, channels) and returns ``h`` plus the
    attention output, in which position ``(i, j)`` read the positions up to and
    including itself in raster order. The output projection starts at zero, so a
    new layer is the identity.

    Examples
    --------
    >>> import numpy as np
    >>> from oasisgen.nn.attention import CausalSelfAttention
    >>> layer = CausalSelfAttention(channels=8, heads=2, seed=0)
    >>> h = np.random.default_rng(0).normal(size=(2, 3, 4, 8)).astype("float32")
    >>> tuple(layer(h).shape)
    (2, 3, 4, 8)
    >>> bool(np.allclose(layer(h), h))  # the identity until trained
    True
    """

    def __init__(
        self, channels: int, heads: int = 4, seed: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        if int(heads) < 1:
            raise ValueError(f"heads must be an int >= 1; got {heads!r}.")
        self.channels = int(channels)
        self.heads = int(heads)
        self.seed = seed
        self.key_dim = max(1, self.channels // self.heads)
        seeds = LayerSeeds(seed)
        width = self.heads * self.key_dim
        self.norm = keras.layers.LayerNormalization(epsilon=1e-5, name="norm")
        self.position = keras.layers.Dense(
            self.channels, kernel_initializer=seeds.glorot(), name="position"
        )
        self.query = keras.layers.Dense(
            width, kernel_initializer=seeds.glorot(), name="query"
        )
        self.key = keras.layers.Dense(
            width, kernel_initializer=seeds.glorot(), name="key"
        )
        self.value = keras.layers.Dense(
            width, kernel_initializer=seeds.glorot(), name="value"
        )
        self.projection = keras.layers.Dense(
            self.channels, kernel_initializer="zeros", name="projection"
        )

    def build(self, input_shape: Any = None) -> None:
        """Create the weights; they depend only on the channel counts."""
        self.norm.build((None, self.channels))
        self.position.build((None, 2 * len(_FREQUENCIES) * 2))
        for dense in (self.query, self.key, self.value):
            dense.build((None, self.channels))
        self.projection.build((None, self.heads * self.key_dim))

    def _inputs(self, h: tf.Tensor, rows: tf.Tensor, columns: tf.Tensor) -> tf.Tensor:
        """Return the normalised features (n, m, c) of ``h``, with their positions."""
        where = self.position(position_features(rows, columns))
        return self.norm(h) + tf.cast(where, h.dtype)[None]

    def _split_heads(self, x: tf.Tensor) -> tf.Tensor:
        """(n, m, heads * d) -> (n, heads, m, d)."""
        n, m = tf.shape(x)[0], tf.shape(x)[1]
        x = tf.reshape(x, (n, m, self.heads, self.key_dim))
        return tf.transpose(x, (0, 2, 1, 3))

    def _attend(
        self, queries: tf.Tensor, keys: tf.Tensor, values: tf.Tensor, allowed: tf.Tensor
    ) -> tf.Tensor:
        """Return the projected attention output (n, m, c) of heads (n, heads, m, d)."""
        scores = tf.matmul(queries, keys, transpose_b=True)
        scores = scores / tf.cast(math.sqrt(self.key_dim), scores.dtype)
        scores = tf.where(allowed, scores, tf.constant(-1e9, scores.dtype))
        mixed = tf.matmul(tf.nn.softmax(scores, axis=-1), values)
        n, m = tf.shape(mixed)[0], tf.shape(mixed)[2]
        mixed = tf.reshape(tf.transpose(mixed, (0, 2, 1, 3)), (n, m, -1))
        return self.projection(mixed)

    def call(self, h: tf.Tensor) -> tf.Tensor:
        """Return ``h`` plus the causal attention output, both (n, H, W, c)."""
        shape = tf.shape(h)
        height, width = shape[1], shape[2]
        flat = tf.reshape(h, (shape[0], height * width, self.channels))
        index = tf.range(height * width)
        x = self._inputs(flat, index // width, index % width)
        queries, keys, values = (
            self._split_heads(dense(x)) for dense in (self.query, self.key, self.value)
        )
        allowed = index[None, :] <= index[:, None]  # (query, key) in raster order
        out = self._attend(queries, keys, values, allowed[None, None])
        return h + tf.reshape(out, shape)

    def step(
        self,
        h: tf.Tensor,
        keys: tf.Tensor,
        values: tf.Tensor,
        position: tf.Tensor,
        width: int,
    ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """Apply the layer at one position, from the keys and values before it.

        Parameters
        ----------
        h : tensor of shape (n, 1, 1, channels)
            The input at the position.
        keys, values : tensor of shape (n, heads, H * W, key_dim)
            Those of the positions before this one in raster order (anything
            after it, as it is masked out).
        position : int tensor
            The raster index ``i * width + j`` of the position.
        width : int
            Width ``W`` of the map.

        Returns
        -------
        h_out : tensor of shape (n, 1, 1, channels)
        keys, values : tensor of shape (n, heads, H * W, key_dim)
            With this position's written in.
        """
        n = tf.shape(h)[0]
        flat = tf.reshape(h, (n, 1, self.channels))
        position = tf.reshape(tf.cast(position, tf.int32), (1,))
        x = self._inputs(flat, position // width, position % width)
        keys = _write(keys, self._split_heads(self.key(x)), position[0])
        values = _write(values, self._split_heads(self.value(x)), position[0])
        allowed = tf.range(keys.shape[2])[None, None, None, :] <= position[0]
        out = self._attend(self._split_heads(self.query(x)), keys, values, allowed)
        return h + tf.reshape(out, (n, 1, 1, self.channels)), keys, values

    def get_config(self) -> dict[str, Any]:
        """Return the constructor arguments."""
        config = super().get_config()
        config.update(channels=self.channels, heads=self.heads, seed=self.seed)
        return config


def _write(cache: tf.Tensor, new: tf.Tensor, position: tf.Tensor) -> tf.Tensor:
    """Return ``cache`` (n, heads, m, d) with ``new`` (n, heads, 1, d) at ``position``.

    A scatter writes the n x heads x d new values only, where blending with a one-hot
    mask would rewrite the whole cache at every position.
    """
    batch, heads = tf.meshgrid(
        tf.range(tf.shape(cache)[0]), tf.range(cache.shape[1]), indexing="ij"
    )
    indices = tf.stack([batch, heads, tf.fill(tf.shape(batch), position)], axis=-1)
    return tf.tensor_scatter_nd_update(cache, indices, new[:, :, 0, :])
