"""Resizing of grayscale image batches, for the loaders, transformers and metrics."""

from __future__ import annotations

import numpy as np
from PIL import Image


def as_size(image_size: int | tuple[int, int]) -> tuple[int, int]:
    """Return ``(height, width)`` from one side length or a pair.

    Parameters
    ----------
    image_size : int or tuple of (int, int)
        A square side, or ``(height, width)``.

    Returns
    -------
    size : tuple of (int, int)
        ``(height, width)``.

    Raises
    ------
    ValueError
        If a side is not a positive whole number.

    Examples
    --------
    >>> as_size(32)
    (32, 32)
    >>> as_size((16, 24))
    (16, 24)
    """
    sides = (image_size, image_size) if np.isscalar(image_size) else tuple(image_size)
    if len(sides) != 2 or not all(
        isinstance(s, int | np.integer) and not isinstance(s, bool) and s > 0
        for s in sides
    ):
        raise ValueError(
            "image_size must be a positive int or a (height, width) pair of positive "
            f"ints; got {image_size!r}."
        )
    return int(sides[0]), int(sides[1])


def resize_image(image: np.ndarray, image_size: int | tuple[int, int]) -> np.ndarray:
    """Resize one 2D float image with Pillow's antialiased bilinear filter.

    Parameters
    ----------
    image : ndarray of shape (height, width)
        Values in [0, 1].
    image_size : int or tuple of (int, int)
        Output side, or ``(height, width)``.

    Returns
    -------
    resized : ndarray of shape (new_height, new_width), dtype float32
        Values clipped to [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> resize_image(np.ones((64, 48), dtype=np.float32), 16).shape
    (16, 16)
    """
    height, width = as_size(image_size)
    image = np.asarray(image, dtype=np.float32)
    if image.shape == (height, width):
        return image.copy()
    resized = Image.fromarray(image, mode="F").resize(
        (width, height), resample=Image.Resampling.BILINEAR
    )
    return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)


def resize_images(images: np.ndarray, image_size: int | tuple[int, int]) -> np.ndarray:
    """Resize a batch of grayscale images.

    Parameters
    ----------
    images : ndarray of shape (n_samples, height, width, 1)
        Float images with values in [0, 1].
    image_size : int or tuple of (int, int)
        Output side, or ``(height, width)``.

    Returns
    -------
    resized : ndarray of shape (n_samples, new_height, new_width, 1), dtype float32
        The resized images; a copy even when the size does not change.

    Examples
    --------
    >>> import numpy as np
    >>> resize_images(np.zeros((3, 64, 64, 1), dtype=np.float32), 32).shape
    (3, 32, 32, 1)
    """
    height, width = as_size(image_size)
    out = np.empty((len(images), height, width, 1), dtype=np.float32)
    for i, image in enumerate(images):
        out[i, ..., 0] = resize_image(image[..., 0], (height, width))
    return out
