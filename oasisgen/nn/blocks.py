"""Convolutional building blocks of the VQ-VAE-2 encoders and decoders.

The shapes follow Razavi et al. 2019 (and van den Oord et al. 2017): strided 4x4
convolutions halve the resolution, residual stacks of (ReLU, 3x3, ReLU, 1x1) keep it,
and 4x4 transposed convolutions double it.
"""

from __future__ import annotations

from typing import Any

import keras

from oasisgen.nn.seeds import LayerSeeds


@keras.saving.register_keras_serializable(package="oasisgen")
class ResidualStack(keras.layers.Layer):
    """A stack of residual blocks ``x + conv1x1(relu(conv3x3(relu(x))))``, then ReLU.

    Parameters
    ----------
    channels : int
        Channels of the input and the output.
    n_res_blocks : int
        Number of residual blocks.
    n_res_channels : int
        Channels inside each block.
    seed : int, optional
        Seed of the initial weights.
    **kwargs
        Passed to :class:`keras.layers.Layer`.

    Examples
    --------
    >>> import numpy as np
    >>> from oasisgen.nn import ResidualStack
    >>> stack = ResidualStack(channels=8, n_res_blocks=2, n_res_channels=4)
    >>> tuple(stack(np.zeros((1, 5, 5, 8), dtype="float32")).shape)
    (1, 5, 5, 8)
    """

    def __init__(
        self,
        channels: int,
        n_res_blocks: int,
        n_res_channels: int,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.channels = int(channels)
        self.n_res_blocks = int(n_res_blocks)
        self.n_res_channels = int(n_res_channels)
        self.seed = seed
        seeds = LayerSeeds(seed)
        self.blocks = [
            [
                keras.layers.Conv2D(
                    n_res_channels,
                    3,
                    padding="same",
                    kernel_initializer=seeds.glorot(),
                    name=f"{i}_3x3",
                ),
                keras.layers.Conv2D(
                    channels, 1, kernel_initializer=seeds.glorot(), name=f"{i}_1x1"
                ),
            ]
            for i in range(self.n_res_blocks)
        ]

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        """Build the convolutions of every block."""
        inner_shape = (*input_shape[:-1], self.n_res_channels)
        for conv3, conv1 in self.blocks:
            conv3.build(input_shape)
            conv1.build(inner_shape)

    def call(self, inputs: Any) -> Any:
        """Apply the residual blocks."""
        x = inputs
        for conv3, conv1 in self.blocks:
            x = x + conv1(keras.ops.relu(conv3(keras.ops.relu(x))))
        return keras.ops.relu(x)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        """Return the input shape: the stack keeps shape and channels."""
        return input_shape

    def get_config(self) -> dict[str, Any]:
        """Return the constructor arguments."""
        config = super().get_config()
        config.update(
            channels=self.channels,
            n_res_blocks=self.n_res_blocks,
            n_res_channels=self.n_res_channels,
            seed=self.seed,
        )
        return config


def encoder(
    channels: int,
    downsample: int,
    n_res_blocks: int,
    n_res_channels: int,
    name: str,
    seed: int | None = None,
) -> keras.Sequential:
    """Return an encoder that divides height and width by ``downsample`` (2 or 4).

    Parameters
    ----------
    channels : int
        Output channels (hidden channels of the model).
    downsample : {2, 4}
        Total stride.
    n_res_blocks, n_res_channels : int
        Shape of the final residual stack.
    name : str
        Name of the returned model.
    seed : int, optional
        Seed of the initial weights.

    Returns
    -------
    encoder : keras.Sequential

    Examples
    --------
    >>> import numpy as np
    >>> from oasisgen.nn.blocks import encoder
    >>> enc = encoder(16, 4, 1, 8, name="bottom_encoder")
    >>> tuple(enc(np.zeros((1, 32, 32, 1), dtype="float32")).shape)
    (1, 8, 8, 16)
    """
    if downsample not in (2, 4):
        raise ValueError(f"downsample must be 2 or 4; got {downsample!r}.")
    seeds = LayerSeeds(seed)
    strided = [channels // 2, channels][: downsample // 2]
    layers: list[keras.layers.Layer] = [
        keras.layers.Conv2D(
            filters,
            4,
            strides=2,
            padding="same",
            activation="relu",
            kernel_initializer=seeds.glorot(),
        )
        for filters in strided
    ]
    layers += [
        keras.layers.Conv2D(
            channels, 3, padding="same", kernel_initializer=seeds.glorot()
        ),
        ResidualStack(channels, n_res_blocks, n_res_channels, seed=seeds()),
    ]
    return keras.Sequential(layers, name=name)


def decoder(
    channels: int,
    out_channels: int,
    upsample: int,
    n_res_blocks: int,
    n_res_channels: int,
    name: str,
    seed: int | None = None,
) -> keras.Sequential:
    """Return a decoder that multiplies height and width by ``upsample`` (2 or 4).

    Parameters
    ----------
    channels : int
        Hidden channels.
    out_channels : int
        Channels of the output (1 for the image, embedding_dim for codes).
    upsample : {2, 4}
        Total upsampling factor.
    n_res_blocks, n_res_channels : int
        Shape of the residual stack.
    name : str
        Name of the returned model.
    seed : int, optional
        Seed of the initial weights.

    Returns
    -------
    decoder : keras.Sequential

    Examples
    --------
    >>> import numpy as np
    >>> from oasisgen.nn.blocks import decoder
    >>> dec = decoder(16, 1, 4, 1, 8, name="decoder")
    >>> tuple(dec(np.zeros((1, 8, 8, 4), dtype="float32")).shape)
    (1, 32, 32, 1)
    """
    if upsample not in (2, 4):
        raise ValueError(f"upsample must be 2 or 4; got {upsample!r}.")
    seeds = LayerSeeds(seed)
    layers: list[keras.layers.Layer] = [
        keras.layers.Conv2D(
            channels, 3, padding="same", kernel_initializer=seeds.glorot()
        ),
        ResidualStack(channels, n_res_blocks, n_res_channels, seed=seeds()),
    ]
    if upsample == 4:
        layers.append(
            keras.layers.Conv2DTranspose(
                channels // 2,
                4,
                strides=2,
                padding="same",
                activation="relu",
                kernel_initializer=seeds.glorot(),
            )
        )
    layers.append(
        keras.layers.Conv2DTranspose(
            out_channels,
            4,
            strides=2,
            padding="same",
            kernel_initializer=seeds.glorot(),
        )
    )
    return keras.Sequential(layers, name=name)
