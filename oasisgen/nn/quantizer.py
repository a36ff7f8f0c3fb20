"""Vector quantizer with an exponential-moving-average codebook.

The layer maps each ``embedding_dim`` vector of its input to the nearest of
``num_embeddings`` codebook vectors (van den Oord et al. 2017, "Neural Discrete
Representation Learning", appendix A.1; Razavi et al. 2019). The codebook is not
trained by gradients: it follows the running mean of the encoder outputs assigned to
each code, with Laplace-smoothed cluster sizes. Codes that go unused for
``restart_after`` training steps are re-seeded from the current encoder outputs, so
the codebook does not collapse onto a few entries. Because every code starts as
"unused", the first training step seeds the whole codebook from real encoder
outputs.

Under a ``tf.distribute`` strategy every replica updates its codebook with the code
counts and sums of the global batch, and restarts codes from the global batch's
encoder outputs with the first replica's picks, so all replicas compute the same
update as one device would; the state is held in non-trainable variables with
``aggregation="mean"``, which keeps them identical.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="oasisgen")
class VectorQuantizer(keras.layers.Layer):
    """Quantize vectors to a codebook updated by exponential moving averages.

    Parameters
    ----------
    num_embeddings : int
        Number of codebook vectors, K.
    embedding_dim : int
        Size of each vector, D; the last axis of the input.
    commitment_cost : float, default=0.25
        Weight of the commitment loss ``||z - sg(q)||^2`` added with ``add_loss``.
    decay : float, default=0.99
        Decay of the moving averages of cluster sizes and sums.
    epsilon : float, default=1e-5
        Laplace smoothing of the cluster sizes.
    restart_after : int, default=64
        Re-seed a code from the current encoder outputs once it has been unused
        for this many training steps.
    seed : int, optional
        Seed of the random choice of encoder outputs for restarts.
    **kwargs
        Passed to :class:`keras.layers.Layer`.

    Notes
    -----
    ``call`` returns ``(quantized, codes)``: ``quantized`` has the shape of the input
    and passes gradients straight through to it; ``codes`` has the input's shape
    without the last axis, dtype int32.

    Examples
    --------
    >>> import numpy as np
    >>> from oasisgen.nn import VectorQuantizer
    >>> vq = VectorQuantizer(num_embeddings=8, embedding_dim=4, seed=0)
    >>> z = np.random.default_rng(0).normal(size=(2, 3, 3, 4)).astype("float32")
    >>> quantized, codes = vq(z, training=True)
    >>> tuple(quantized.shape), tuple(codes.shape)
    ((2, 3, 3, 4), (2, 3, 3))
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        commitment_cost: float = 0.25,
        decay: float = 0.99,
        epsilon: float = 1e-5,
        restart_after: int = 64,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.num_embeddings = int(num_embeddings)
        self.embedding_dim = int(embedding_dim)
        self.commitment_cost = float(commitment_cost)
        self.decay = float(decay)
        self.epsilon = float(epsilon)
        self.restart_after = int(restart_after)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        """Create the codebook and its moving averages."""
        if input_shape[-1] != self.embedding_dim:
            raise ValueError(
                f"VectorQuantizer expected inputs whose last axis is embedding_dim="
                f"{self.embedding_dim}; got input shape {tuple(input_shape)}."
            )
        shape = (self.num_embeddings, self.embedding_dim)
        state = {"trainable": False, "aggregation": "mean"}
        self.embeddings = self.add_weight(
            shape=shape,
            initializer=keras.initializers.GlorotUniform(seed=self.seed),
            name="embeddings",
            **state,
        )
        # Cluster sizes start at one, not zero, so the first updates are not
        # dominated by the smoothing; the sums start equal to the codebook.
        self.ema_cluster_size = self.add_weight(
            shape=(self.num_embeddings,),
            initializer="ones",
            name="ema_cluster_size",
            **state,
        )
        self.ema_embedding_sum = self.add_weight(
            shape=shape, initializer="zeros", name="ema_embedding_sum", **state
        )
        self.ema_embedding_sum.assign(self.embeddings)
        # Every code starts "unused for restart_after steps": the first training
        # step seeds the codebook from real encoder outputs.
        self.steps_unused = self.add_weight(
            shape=(self.num_embeddings,),
            initializer=keras.initializers.Constant(float(self.restart_after)),
            name="steps_unused",
            **state,
        )

    def call(self, inputs: tf.Tensor, training: bool | None = None) -> Any:
        """Quantize ``inputs``; update the codebook when ``training``."""
        flat = tf.reshape(inputs, (-1, self.embedding_dim))
        flat_codes = self._nearest_codes(flat)
        if training:
            self._update_codebook(flat, flat_codes)
        quantized = tf.reshape(tf.gather(self.embeddings, flat_codes), tf.shape(inputs))
        commitment = tf.reduce_mean(tf.square(inputs - tf.stop_gradient(quantized)))
        self.add_loss(self.commitment_cost * commitment)
        straight_through = inputs + tf.stop_gradient(quantized - inputs)
        codes = tf.reshape(flat_codes, tf.shape(inputs)[:-1])
        return straight_through, codes

    def encode(self, inputs: tf.Tensor) -> tf.Tensor:
        """Return the index of the nearest codebook vector of each input vector.

        Parameters
        ----------
        inputs : tensor of shape (..., embedding_dim)

        Returns
        -------
        codes : int32 tensor of shape (...)
        """
        flat = tf.reshape(inputs, (-1, self.embedding_dim))
        return tf.reshape(self._nearest_codes(flat), tf.shape(inputs)[:-1])

    def lookup(self, codes: tf.Tensor) -> tf.Tensor:
        """Return the codebook vectors of integer ``codes``.

        Parameters
        ----------
        codes : int tensor of shape (...)

        Returns
        -------
        vectors : float tensor of shape (..., embedding_dim)
        """
        return tf.gather(self.embeddings, tf.cast(codes, "int32"))

    def _nearest_codes(self, flat: tf.Tensor) -> tf.Tensor:
        distances = (
            tf.reduce_sum(tf.square(flat), axis=1, keepdims=True)
            - 2.0 * tf.matmul(flat, self.embeddings, transpose_b=True)
            + tf.reduce_sum(tf.square(self.embeddings), axis=1)[tf.newaxis, :]
        )
        return tf.argmin(distances, axis=1, output_type=tf.int32)

    def _update_codebook(self, flat: tf.Tensor, flat_codes: tf.Tensor) -> None:
        flat = tf.stop_gradient(tf.cast(flat, self.embeddings.dtype))
        # a segment sum rather than bincount: XLA (jit_compile) compiles it
        counts = tf.math.unsorted_segment_sum(
            tf.ones_like(flat_codes, dtype=flat.dtype), flat_codes, self.num_embeddings
        )
        sums = tf.math.unsorted_segment_sum(flat, flat_codes, self.num_embeddings)
        # Under a tf.distribute strategy every replica updates its codebook with the
        # counts and sums of the global batch, so all replicas keep the same one.
        counts, sums = _sum_over_replicas(counts), _sum_over_replicas(sums)
        cluster_size = self.decay * self.ema_cluster_size + (1 - self.decay) * counts
        embedding_sum = self.decay * self.ema_embedding_sum + (1 - self.decay) * sums
        total = tf.reduce_sum(cluster_size)
        smoothed = (
            (cluster_size + self.epsilon)
            / (total + self.num_embeddings * self.epsilon)
            * total
        )
        embeddings = embedding_sum / smoothed[:, tf.newaxis]

        steps_unused = tf.where(counts > 0, 0.0, self.steps_unused + 1.0)
        dead = steps_unused >= self.restart_after
        # Restarts pick from the global batch too, the same picks on every replica.
        candidates = _gather_over_replicas(flat)
        picks = keras.random.randint(
            (self.num_embeddings,),
            0,
            tf.shape(candidates)[0],
            seed=self.seed_generator,
        )
        fresh = _from_first_replica(tf.gather(candidates, picks))
        dead_rows = dead[:, tf.newaxis]
        self.embeddings.assign(tf.where(dead_rows, fresh, embeddings))
        self.ema_embedding_sum.assign(tf.where(dead_rows, fresh, embedding_sum))
        self.ema_cluster_size.assign(tf.where(dead, 1.0, cluster_size))
        self.steps_unused.assign(tf.where(dead, 0.0, steps_unused))

    def compute_output_spec(self, inputs: Any, training: bool | None = None) -> Any:
        """Describe the outputs for symbolic (functional) use."""
        codes = keras.KerasTensor(inputs.shape[:-1], dtype="int32")
        return keras.KerasTensor(inputs.shape, dtype=inputs.dtype), codes

    def get_config(self) -> dict[str, Any]:
        """Return the constructor arguments."""
        config = super().get_config()
        config.update(
            num_embeddings=self.num_embeddings,
            embedding_dim=self.embedding_dim,
            commitment_cost=self.commitment_cost,
            decay=self.decay,
            epsilon=self.epsilon,
            restart_after=self.restart_after,
            seed=self.seed,
        )
        return config


def _other_replicas() -> tf.distribute.ReplicaContext | None:
    """Return the replica context of a step run on several replicas, else None."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return None
    return context


def _sum_over_replicas(value: tf.Tensor) -> tf.Tensor:
    """Return the sum of ``value`` over the replicas of a distributed step."""
    context = _other_replicas()
    if context is None:
        return value
    return context.all_reduce(tf.distribute.ReduceOp.SUM, value)


def _gather_over_replicas(value: tf.Tensor) -> tf.Tensor:
    """Return the rows of ``value`` of every replica, in the global batch's order."""
    context = _other_replicas()
    if context is None:
        return value
    return context.all_gather(value, axis=0)


def _from_first_replica(value: tf.Tensor) -> tf.Tensor:
    """Return the first replica's ``value`` on every replica of a distributed step."""
    context = _other_replicas()
    if context is None:
        return value
    first = tf.cast(tf.equal(context.replica_id_in_sync_group, 0), value.dtype)
    return context.all_reduce(tf.distribute.ReduceOp.SUM, value * first)
