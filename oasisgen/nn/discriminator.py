"""A patch discriminator, which tells a slice's real patches from decoded ones.

The squared error blurs what the decoder cannot place exactly, so the decoder of
an autoencoder trained on it alone gives back less fine texture than the slices
hold. A discriminator that judges small patches (Isola et al. 2017, "Image-to-image
translation with conditional adversarial networks"; the VQGAN of Esser et al. 2021
trains its decoder against one) asks for texture that looks real, patch by patch,
without asking for any one pixel's value. Two 4x4 convolutions of stride 2 and a
3x3 convolution give one logit per 4x4 block of pixels, each seeing 18x18 pixels.
"""

from __future__ import annotations

import keras

from oasisgen.nn.seeds import LayerSeeds

LEAK = 0.2
"""Slope of the leaky ReLUs below 0, as in the patch discriminators of the papers."""


def patch_discriminator(
    channels: int = 32, *, seed: int | None = None, name: str = "discriminator"
) -> keras.Sequential:
    """Return a discriminator of one logit per patch of a grayscale image.

    Parameters
    ----------
    channels : int, default=32
        Channels of the first convolution; the second has twice as many.
    seed : int, optional
        Seed of the initial weights.
    name : str, default="discriminator"
        Name of the model.

    Returns
    -------
    discriminator : keras.Sequential
        Maps images (n, H, W, 1) to logits (n, H/4, W/4, 1): above 0 where a
        patch looks real.

    Examples
    --------
    >>> import numpy as np
    >>> from oasisgen.nn import patch_discriminator
    >>> critic = patch_discriminator(8, seed=0)
    >>> tuple(critic(np.zeros((2, 32, 32, 1), dtype="float32")).shape)
    (2, 8, 8, 1)
    """
    seeds = LayerSeeds(seed)
    layers: list[keras.layers.Layer] = []
    for width in (channels, 2 * channels):
        layers += [
            keras.layers.Conv2D(
                width, 4, strides=2, padding="same", kernel_initializer=seeds.glorot()
            ),
            keras.layers.LeakyReLU(LEAK),
        ]
    layers.append(
        keras.layers.Conv2D(1, 3, padding="same", kernel_initializer=seeds.glorot())
    )
    return keras.Sequential(layers, name=name)
