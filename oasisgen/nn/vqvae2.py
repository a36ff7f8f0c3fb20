"""The two-level VQ-VAE-2 of Razavi et al. 2019 as a Keras model.

::

    image (H, W, 1)
      -> bottom encoder (stride s) ---------------------------- enc_b (H/s)
      -> top encoder (stride 8/s) -> 1x1 -> top quantizer ----- q_t   (H/8)
    q_t -> top decoder (x 8/s) ++ enc_b -> 1x1 -> bottom quant. q_b   (H/s)
    upsample(q_t) ++ q_b -> decoder (x s) --------------------- image (H, W, 1)

The bottom stride ``s`` is 4, as in the paper, or 2 for a bottom map twice as
fine (sharper reconstructions of small images, four times the bottom codes). At
256x256 the top code map is 32x32 and the bottom one 64x64 (s = 4). The loss is the mean
squared reconstruction error plus the commitment losses of both quantizers; their
codebooks follow exponential moving averages (see :class:`VectorQuantizer`). The
error is that of the image the model outputs, clipped to [0, 1]: a decoder trained
on its unclipped output leaves the background at about 0.001 instead of 0 (the
error there is too small to matter), a tell that no real slice has; trained on the
clipped one it learns to push the background below 0, which is drawn exactly black
(benchmarks/README.md, "A black background").

Nothing in that loss makes the top codes matter: the bottom map alone can carry the
whole image, and on small data it does (a decoder given another slice's top codes
draws the same image). A bottom prior then hardly reads its condition, and the
global shape of a sample is left to its local view. ``top_reconstruction_weight``
adds the mean squared error of a coarse image read from the top codes alone (a 1x1
convolution of the top decoder's output, against the image averaged over s x s
blocks), so the top codes hold the layout of the slice and the bottom codes what
the layout does not say::

    q_t -> top decoder (x 8/s) -> 1x1 --------------------- coarse image (H/s)

Nor does the squared error ask for texture: it blurs what the decoder cannot
place exactly. ``adversarial_loss_weight`` trains a patch discriminator
(:func:`~oasisgen.nn.patch_discriminator`) beside the model, to tell the slices'
patches from the reconstructions', and adds its hinge loss for the decoder (as
the VQGAN of Esser et al. 2021 does), from the first step. One optimizer updates
both: the model's weights on the model's loss, the discriminator's on its own.
"""

from __future__ import annotations

from numbers import Real
from typing import Any, NamedTuple

import keras
import tensorflow as tf

from oasisgen.nn.blocks import decoder, encoder
from oasisgen.nn.codebook_metrics import CodebookPerplexity, CodebookUsage
from oasisgen.nn.discriminator import patch_discriminator
from oasisgen.nn.multi_worker import reducible_logs
from oasisgen.nn.quantizer import VectorQuantizer
from oasisgen.nn.seeds import LayerSeeds

LEVELS = ("top", "bottom")
TOP_STRIDE = 8
"""How much coarser the top code map is than the image."""
BOTTOM_STRIDES = (4, 2)
"""The bottom code map's possible strides: the paper's 4, or 2 for finer detail."""


class Forward(NamedTuple):
    """What one pass of :class:`VQVAE2` computes."""

    reconstruction: tf.Tensor
    """The decoded image, clipped to [0, 1] (n, H, W, 1)."""
    top_codes: tf.Tensor
    bottom_codes: tf.Tensor
    commitment_loss: tf.Tensor
    coarse_reconstruction: tf.Tensor | None
    """The coarse image read from the top codes alone (n, H/s, W/s, 1); None
    without a ``top_reconstruction_weight``."""


class LossTerms(NamedTuple):
    """The terms of :class:`VQVAE2`'s loss on one batch, and their weighted sum."""

    reconstruction: tf.Tensor
    """Mean squared error of the reconstruction."""
    coarse: tf.Tensor | None
    """Error of the coarse image read from the top codes; None at weight 0."""
    gradient: tf.Tensor | None
    """Gradient-difference loss; None at weight 0."""
    adversarial: tf.Tensor | None
    """The decoder's hinge loss against the discriminator; None at weight 0."""
    discriminator: tf.Tensor | None
    """The discriminator's hinge loss; None at weight 0."""
    total: tf.Tensor
    """Reconstruction + commitment + the weighted coarse, gradient and adversarial
    terms: the model's loss (the discriminator minimises its own)."""


def _pair(value: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    """Return ``(top, bottom)`` from one value or a pair."""
    if isinstance(value, tuple | list):
        top, bottom = value
        return int(top), int(bottom)
    return int(value), int(value)


def ssim_filter_size(height: int, width: int) -> int:
    """Return the SSIM window: 11, shrunk to fit images smaller than 11 px.

    Parameters
    ----------
    height, width : int
        Image size.

    Returns
    -------
    filter_size : int

    Examples
    --------
    >>> ssim_filter_size(256, 256), ssim_filter_size(8, 16)
    (11, 8)
    """
    return min(11, int(height), int(width))


@keras.saving.register_keras_serializable(package="oasisgen")
class VQVAE2(keras.Model):
    """Two-level vector-quantized autoencoder for grayscale images.

    Parameters
    ----------
    num_embeddings : int or tuple of (int, int), default=512
        Codebook size, or ``(top, bottom)`` sizes.
    embedding_dim : int, default=64
        Size of each codebook vector.
    hidden_channels : int, default=128
        Channels of the encoders and decoders.
    n_res_blocks : int, default=2
        Residual blocks in each encoder and decoder.
    n_res_channels : int, default=32
        Channels inside each residual block.
    commitment_cost : float, default=0.25
        Weight of the commitment loss.
    decay : float, default=0.99
        Decay of the codebook moving averages.
    bottom_stride : {4, 2}, default=4
        How much coarser the bottom code map is than the image; the top map is
        always 8 times coarser.
    restart_after : int, default=64
        Training steps a code may go unused before it is re-seeded.
    top_reconstruction_weight : float, default=0.0
        Weight of the error of the coarse image read from the top codes alone
        (see the module notes); 0 for the paper's loss.
    gradient_loss_weight : float, default=0.0
        Weight of the gradient-difference loss (Mathieu et al. 2016, "Deep
        multi-scale video prediction beyond mean square error"): the mean
        squared difference between the absolute vertical and horizontal pixel
        differences of the reconstruction and of the image. The squared error
        alone blurs edges it cannot place exactly; this term asks for edges as
        strong as the image's. 0 for the paper's loss.
    bottom_code_noise : float, default=0.0
        Share of the bottom codes that training decodes as another code, drawn
        uniformly from the codebook, in [0, 1). The decoder learns to draw a
        smooth, plausible image around codes that do not fit their neighbours,
        as a prior's samples have; 0 for the paper's training.
    adversarial_loss_weight : float, default=0.0
        Weight of the decoder's hinge loss against a patch discriminator trained
        beside the model (see the module notes), which asks for fine texture
        that looks real. 0 for the paper's loss, and no discriminator.
    seed : int, optional
        Seed of the quantizers' random restarts and of the code noise.
    **kwargs
        Passed to :class:`keras.Model`.

    Examples
    --------
    >>> import numpy as np
    >>> from oasisgen.nn import VQVAE2
    >>> model = VQVAE2(num_embeddings=16, embedding_dim=4, hidden_channels=8,
    ...                n_res_blocks=1, n_res_channels=4, seed=0)
    >>> images = np.random.default_rng(0).random((2, 32, 32, 1)).astype("float32")
    >>> top, bottom = model.encode(images)
    >>> tuple(top.shape), tuple(bottom.shape)
    ((2, 4, 4), (2, 8, 8))
    >>> tuple(model.decode(top, bottom).shape)
    (2, 32, 32, 1)
    >>> fine = VQVAE2(num_embeddings=16, embedding_dim=4, hidden_channels=8,
    ...               n_res_blocks=1, n_res_channels=4, bottom_stride=2, seed=0)
    >>> tuple(fine.encode(images)[1].shape)
    (2, 16, 16)
    """

    def __init__(
        self,
        num_embeddings: int | tuple[int, int] = 512,
        embedding_dim: int = 64,
        hidden_channels: int = 128,
        n_res_blocks: int = 2,
        n_res_channels: int = 32,
        commitment_cost: float = 0.25,
        decay: float = 0.99,
        bottom_stride: int = 4,
        restart_after: int = 64,
        top_reconstruction_weight: float = 0.0,
        gradient_loss_weight: float = 0.0,
        bottom_code_noise: float = 0.0,
        adversarial_loss_weight: float = 0.0,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        if bottom_stride not in BOTTOM_STRIDES:
            raise ValueError(
                f"bottom_stride must be one of {BOTTOM_STRIDES}; got {bottom_stride!r}."
            )
        for name, weight in [
            ("top_reconstruction_weight", top_reconstruction_weight),
            ("gradient_loss_weight", gradient_loss_weight),
            ("adversarial_loss_weight", adversarial_loss_weight),
        ]:
            if not isinstance(weight, Real):
                raise TypeError(
                    f"{name} must be a number >= 0; got {type(weight).__name__} "
                    f"{weight!r}."
                )
            if not weight >= 0:
                raise ValueError(f"{name} must be a number >= 0; got {weight!r}.")
        noise_message = (
            "bottom_code_noise must be a number in [0, 1), the share of bottom codes "
            "replaced in training; got"
        )
        if isinstance(bottom_code_noise, bool) or not isinstance(
            bottom_code_noise, Real
        ):
            raise TypeError(
                f"{noise_message} {type(bottom_code_noise).__name__} "
                f"{bottom_code_noise!r}."
            )
        if not 0 <= bottom_code_noise < 1:
            raise ValueError(f"{noise_message} {bottom_code_noise!r}.")
        super().__init__(**kwargs)
        self.num_embeddings = _pair(num_embeddings)
        self.embedding_dim = int(embedding_dim)
        self.hidden_channels = int(hidden_channels)
        self.n_res_blocks = int(n_res_blocks)
        self.n_res_channels = int(n_res_channels)
        self.commitment_cost = float(commitment_cost)
        self.decay = float(decay)
        self.bottom_stride = int(bottom_stride)
        self.restart_after = int(restart_after)
        self.top_reconstruction_weight = float(top_reconstruction_weight)
        self.gradient_loss_weight = float(gradient_loss_weight)
        self.bottom_code_noise = float(bottom_code_noise)
        self.adversarial_loss_weight = float(adversarial_loss_weight)
        self.seed = seed

        res = (self.n_res_blocks, self.n_res_channels)
        hidden, dim = self.hidden_channels, self.embedding_dim
        seeds = LayerSeeds(seed)
        stride, top_stride = self.bottom_stride, TOP_STRIDE // self.bottom_stride
        self.bottom_encoder = encoder(
            hidden, stride, *res, name="bottom_encoder", seed=seeds()
        )
        self.top_encoder = encoder(
            hidden, top_stride, *res, name="top_encoder", seed=seeds()
        )
        self.top_projection = keras.layers.Conv2D(
            dim, 1, kernel_initializer=seeds.glorot(), name="top_projection"
        )
        self.top_decoder = decoder(
            hidden, dim, top_stride, *res, name="top_decoder", seed=seeds()
        )
        self.bottom_projection = keras.layers.Conv2D(
            dim, 1, kernel_initializer=seeds.glorot(), name="bottom_projection"
        )
        self.top_upsample = keras.layers.Conv2DTranspose(
            dim,
            2 * top_stride,
            strides=top_stride,
            padding="same",
            kernel_initializer=seeds.glorot(),
            name="top_upsample",
        )
        self.decoder = decoder(hidden, 1, stride, *res, name="decoder", seed=seeds())
        if self.top_reconstruction_weight:
            self.top_reconstruction = keras.layers.Conv2D(
                1, 1, kernel_initializer=seeds.glorot(), name="top_reconstruction"
            )
        # made last, and only with a weight: the model's other layers start from
        # the weights they would without it
        self.discriminator = (
            patch_discriminator(seed=seeds()) if self.adversarial_loss_weight else None
        )
        quantizer_seeds = (None, None) if seed is None else (seed, seed + 1)
        # its state is a variable: made only with noise, so models without
        # noise keep the variables (and the saved files) they always had
        self.noise_seeds = (
            keras.random.SeedGenerator(
                None if seed is None else seed + 2, name="noise_seeds"
            )
            if self.bottom_code_noise
            else None
        )
        self.top_quantizer, self.bottom_quantizer = (
            VectorQuantizer(
                size,
                dim,
                commitment_cost=self.commitment_cost,
                decay=self.decay,
                restart_after=self.restart_after,
                seed=quantizer_seed,
                name=f"{level}_quantizer",
            )
            for level, size, quantizer_seed in zip(
                LEVELS, self.num_embeddings, quantizer_seeds, strict=True
            )
        )
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.commitment_tracker = keras.metrics.Mean(name="commitment_loss")
        self.ssim_tracker = keras.metrics.Mean(name="ssim")
        self.top_reconstruction_tracker = keras.metrics.Mean(
            name="top_reconstruction_loss"
        )
        self.gradient_tracker = keras.metrics.Mean(name="gradient_loss")
        self.adversarial_tracker = keras.metrics.Mean(name="adversarial_loss")
        self.discriminator_tracker = keras.metrics.Mean(name="discriminator_loss")
        self.code_metrics = {
            level: (
                CodebookPerplexity(size, name=f"{level}_perplexity"),
                CodebookUsage(size, name=f"{level}_usage"),
            )
            for level, size in zip(LEVELS, self.num_embeddings, strict=True)
        }

    # ------------------------------------------------------------------ forward
    def build(self, input_shape: tuple[int | None, ...]) -> None:
        """Create every weight by running a batch of zeros through the model."""
        shape = (1, *input_shape[1:])
        self._forward(tf.zeros(shape, dtype=self.compute_dtype), training=False)
        if self.discriminator is not None and not self.discriminator.built:
            self.discriminator.build((None, *input_shape[1:]))

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        """Reconstruct ``inputs`` (n, H, W, 1); adds the commitment losses."""
        reconstruction = self._forward(inputs, training=training).reconstruction
        return reconstruction

    def _forward(self, images: Any, training: bool | None) -> Forward:
        enc_bottom = self.bottom_encoder(images)
        enc_top = self.top_encoder(enc_bottom)
        z_top = self.top_projection(enc_top)
        quant_top, top_codes = self.top_quantizer(z_top, training=training)
        top_decoded = self.top_decoder(quant_top)
        joined = keras.ops.concatenate([top_decoded, enc_bottom], -1)
        z_bottom = self.bottom_projection(joined)
        quant_bottom, bottom_codes = self.bottom_quantizer(z_bottom, training=training)
        decoded_bottom = quant_bottom
        if training and self.bottom_code_noise:
            decoded_bottom = self._with_code_noise(quant_bottom, bottom_codes)
        # The commitment loss is computed here rather than read from self.losses:
        # under a MirroredStrategy the replicas share that list, and each would
        # count every replica's commitment.
        commitment = self._commitment(
            self.top_quantizer, z_top, top_codes
        ) + self._commitment(self.bottom_quantizer, z_bottom, bottom_codes)
        return Forward(
            self._decode_image(quant_top, decoded_bottom),
            top_codes,
            bottom_codes,
            commitment,
            self.top_reconstruction(top_decoded)
            if self.top_reconstruction_weight
            else None,
        )

    def _with_code_noise(self, quantized: tf.Tensor, codes: tf.Tensor) -> tf.Tensor:
        """Return ``quantized`` with a share of its codes' vectors swapped at random."""
        shape = tf.shape(codes)
        replace = keras.random.uniform(shape, seed=self.noise_seeds) < (
            self.bottom_code_noise
        )
        others = keras.random.randint(
            shape, 0, self.num_embeddings[1], dtype="int32", seed=self.noise_seeds
        )
        swapped = tf.cast(self.bottom_quantizer.lookup(others), quantized.dtype)
        return tf.where(replace[..., None], swapped, quantized)

    def _coarse_error(self, images: tf.Tensor, forward: Forward) -> tf.Tensor | None:
        """Return the error of the image read from the top codes (None without)."""
        if forward.coarse_reconstruction is None:
            return None
        stride = self.bottom_stride
        coarse = tf.nn.avg_pool2d(images, stride, stride, "VALID")
        coarse = tf.cast(coarse, forward.coarse_reconstruction.dtype)
        return tf.reduce_mean(tf.square(coarse - forward.coarse_reconstruction))

    def _gradient_error(self, images: tf.Tensor, forward: Forward) -> tf.Tensor | None:
        """Return the gradient-difference loss (None at weight 0)."""
        if not self.gradient_loss_weight:
            return None
        images = tf.cast(images, forward.reconstruction.dtype)
        error = 0.0
        for axis in (1, 2):
            strength = [
                tf.abs(tf.experimental.numpy.diff(x, axis=axis))
                for x in (images, forward.reconstruction)
            ]
            error += tf.reduce_mean(tf.square(strength[0] - strength[1]))
        return error

    def _adversarial_errors(
        self, images: tf.Tensor, forward: Forward
    ) -> tuple[tf.Tensor | None, tf.Tensor | None]:
        """Return the decoder's and the discriminator's hinge losses (None without)."""
        if self.discriminator is None:
            return None, None
        decoded = forward.reconstruction
        real = self.discriminator(tf.cast(images, decoded.dtype))
        fake = self.discriminator(decoded)
        discriminator = tf.reduce_mean(tf.nn.relu(1.0 - real)) + tf.reduce_mean(
            tf.nn.relu(1.0 + fake)
        )
        return -tf.reduce_mean(fake), discriminator

    def _loss_terms(self, images: tf.Tensor, forward: Forward) -> LossTerms:
        """Return every term of the loss of a batch, and the loss itself."""
        reconstruction = tf.reduce_mean(tf.square(images - forward.reconstruction))
        coarse = self._coarse_error(images, forward)
        gradient = self._gradient_error(images, forward)
        adversarial, discriminator = self._adversarial_errors(images, forward)
        total = reconstruction + forward.commitment_loss
        if coarse is not None:
            total += self.top_reconstruction_weight * coarse
        if gradient is not None:
            total += self.gradient_loss_weight * gradient
        if adversarial is not None:
            total += self.adversarial_loss_weight * adversarial
        return LossTerms(
            reconstruction, coarse, gradient, adversarial, discriminator, total
        )

    @staticmethod
    def _commitment(quantizer: VectorQuantizer, z: Any, codes: Any) -> tf.Tensor:
        """Return ``commitment_cost * mean(||z - sg(q)||^2)`` of one level."""
        quantized = tf.stop_gradient(quantizer.lookup(codes))
        return quantizer.commitment_cost * tf.reduce_mean(tf.square(z - quantized))

    def _decode_image(self, quant_top: Any, quant_bottom: Any) -> Any:
        """Return the image in [0, 1] of both levels' quantized vectors."""
        upsampled = self.top_upsample(quant_top)
        decoded = self.decoder(keras.ops.concatenate([upsampled, quant_bottom], -1))
        return tf.clip_by_value(decoded, 0.0, 1.0)

    def encode(self, images: Any) -> tuple[tf.Tensor, tf.Tensor]:
        """Return the ``(top, bottom)`` code maps of images.

        Parameters
        ----------
        images : tensor of shape (n, H, W, 1)

        Returns
        -------
        top : int32 tensor of shape (n, H/8, W/8)
        bottom : int32 tensor of shape (n, H/s, W/s), s the ``bottom_stride``
        """
        forward = self._forward(images, training=False)
        return forward.top_codes, forward.bottom_codes

    def decode(self, top_codes: Any, bottom_codes: Any) -> tf.Tensor:
        """Return images in [0, 1] from ``(top, bottom)`` code maps.

        Parameters
        ----------
        top_codes : int tensor of shape (n, h, w)
        bottom_codes : int tensor of shape (n, 8h/s, 8w/s), s the ``bottom_stride``

        Returns
        -------
        images : float tensor of shape (n, 8h, 8w, 1)
        """
        quant_top = self.top_quantizer.lookup(top_codes)
        quant_bottom = self.bottom_quantizer.lookup(bottom_codes)
        return self._decode_image(quant_top, quant_bottom)

    # ----------------------------------------------------------------- training
    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        """Metrics reset by Keras at the start of every epoch."""
        trackers = [
            self.loss_tracker,
            self.reconstruction_tracker,
            self.commitment_tracker,
            self.ssim_tracker,
        ]
        if self.top_reconstruction_weight:
            trackers.append(self.top_reconstruction_tracker)
        if self.gradient_loss_weight:
            trackers.append(self.gradient_tracker)
        if self.discriminator is not None:
            trackers += [self.adversarial_tracker, self.discriminator_tracker]
        return trackers + [m for pair in self.code_metrics.values() for m in pair]

    def train_step(self, data: Any) -> dict[str, tf.Tensor]:
        """Run one optimisation step on a batch of images."""
        images = _images_of(data)
        critic = self.discriminator
        with tf.GradientTape(persistent=critic is not None) as tape:
            forward = self._forward(images, training=True)
            terms = self._loss_terms(images, forward)
            # Gradients are summed over replicas: scale to the global mean.
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            scaled = terms.total / replicas
            if critic is not None:
                critic_scaled = terms.discriminator / replicas
        if critic is None:
            weights = self.trainable_variables
            gradients = tape.gradient(scaled, weights)
        else:
            # each side descends its own loss; one optimizer steps both
            theirs = critic.trainable_variables
            ours = [
                w for w in self.trainable_variables if all(w is not t for t in theirs)
            ]
            weights = ours + theirs
            gradients = tape.gradient(scaled, ours) + tape.gradient(
                critic_scaled, theirs
            )
            del tape
        self.optimizer.apply_gradients(zip(gradients, weights, strict=True))
        return reducible_logs(self._update_metrics(images, forward, terms))

    def test_step(self, data: Any) -> dict[str, tf.Tensor]:
        """Evaluate a batch of images without updating anything."""
        images = _images_of(data)
        forward = self._forward(images, training=False)
        terms = self._loss_terms(images, forward)
        return reducible_logs(self._update_metrics(images, forward, terms))

    def _update_metrics(
        self, images: tf.Tensor, forward: Forward, terms: LossTerms
    ) -> dict[str, tf.Tensor]:
        reconstruction = forward.reconstruction
        codes = (forward.top_codes, forward.bottom_codes)
        # An epoch's figures are the means of its batches' figures, each batch
        # counted once, so that an epoch resumed after an interruption (whose
        # parts are merged by their numbers of batches) reports what an unbroken
        # one does, even when its last batch is smaller.
        if terms.coarse is not None:
            self.top_reconstruction_tracker.update_state(terms.coarse)
        if terms.gradient is not None:
            self.gradient_tracker.update_state(terms.gradient)
        if terms.adversarial is not None:
            self.adversarial_tracker.update_state(terms.adversarial)
            self.discriminator_tracker.update_state(terms.discriminator)
        self.loss_tracker.update_state(terms.total)
        self.reconstruction_tracker.update_state(terms.reconstruction)
        self.commitment_tracker.update_state(forward.commitment_loss)
        height, width = images.shape[1], images.shape[2]
        ssim = tf.image.ssim(
            reconstruction,
            tf.cast(images, reconstruction.dtype),
            max_val=1.0,
            filter_size=ssim_filter_size(height, width),
            filter_sigma=1.5,
        )
        self.ssim_tracker.update_state(tf.reduce_mean(ssim))
        for level_codes, level_metrics in zip(
            codes, self.code_metrics.values(), strict=True
        ):
            for metric in level_metrics:
                metric.update_state(level_codes)
        return {metric.name: metric.result() for metric in self.metrics}

    def get_config(self) -> dict[str, Any]:
        """Return the constructor arguments."""
        config = super().get_config()
        config.update(
            num_embeddings=self.num_embeddings,
            embedding_dim=self.embedding_dim,
            hidden_channels=self.hidden_channels,
            n_res_blocks=self.n_res_blocks,
            n_res_channels=self.n_res_channels,
            commitment_cost=self.commitment_cost,
            decay=self.decay,
            bottom_stride=self.bottom_stride,
            restart_after=self.restart_after,
            top_reconstruction_weight=self.top_reconstruction_weight,
            gradient_loss_weight=self.gradient_loss_weight,
            bottom_code_noise=self.bottom_code_noise,
            adversarial_loss_weight=self.adversarial_loss_weight,
            seed=self.seed,
        )
        return config


def _images_of(data: Any) -> tf.Tensor:
    """Return the images of a batch given as ``x`` or ``(x, ...)``."""
    return data[0] if isinstance(data, tuple | list) else data
